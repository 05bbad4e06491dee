import { z } from "zod";
import { validate } from "../../errors";

/**
 * What a REST operation takes and answers, declared beside its route: the route parses its query
 * with `query`, the domain validates the body against the schema given as `body`, and the OpenAPI
 * document (openapi.ts) is generated from all of it. Attach with `.get(path, handler, op({ ... }))`.
 */
export type Operation = {
  summary: string;
  /** The JSON body (or, with bodyType "text/csv", a CSV file). */
  body?: z.ZodType;
  bodyType?: "application/json" | "text/csv";
  query?: z.ZodObject;
  /** The success answer's schema; null for 204 No Content. */
  response: z.ZodType | null;
  /** The success answer's media type, JSON unless said (CSV exports, attachment downloads). */
  responseType?: string;
  /** The success status, 200 unless said. */
  status?: number;
  /** Who may call it: an API token (the default), a Segment write key, or anyone (a signed callback, this document). */
  security?: "token" | "writeKey" | "open";
};

/** The route hook that carries an operation (Elysia keeps `detail` on its route table, where openapi.ts reads it). */
export const op = (operation: Operation) => ({ detail: { summary: operation.summary, operation } });

export const operationOf = (hooks: unknown): Operation | undefined =>
  (hooks as { detail?: { operation?: Operation } } | undefined)?.detail?.operation;

/** A query string parsed with the operation's model: the domain then takes typed values. */
export const parseQuery = <S extends z.ZodObject>(model: S, query: unknown): z.infer<S> => validate(model, query ?? {});

// Query-string shapes: every value arrives as text.
export const queryId = z.coerce.number().int().positive();
export const queryBool = z.enum(["true", "false"]).transform((v) => v === "true");
export const queryDate = z.iso.datetime({ offset: true }).transform((v) => new Date(v));
/** Keyset pagination: a page size, the opaque cursor from the previous page, and the order. */
export const pageParams = {
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().max(2000).optional(),
  order: z.enum(["asc", "desc"]).optional(),
};

// Response shapes shared by many operations.
export const isoTime = z.iso.datetime();
export const page = <T extends z.ZodType>(item: T) =>
  z.strictObject({ data: z.array(item), next_cursor: z.string().nullable() });
export const list = <T extends z.ZodType>(item: T) => z.strictObject({ data: z.array(item) });
/** An object we describe by its main fields only: what it carries besides them is documented elsewhere. */
export const loose = (shape: z.ZodRawShape = {}) => z.looseObject(shape);
export const errorModel = z.strictObject({
  error: z.strictObject({ code: z.string(), message: z.string(), details: z.unknown() }),
});
