import type { z } from "zod";
import { unstorableText } from "./clean-text";
// Plain-word validation messages for every schema (a side effect: installs zod's error map once).
import "./plain-messages";

/**
 * What went wrong, in the domain's words. No HTTP here: the HTTP layer maps each kind to one status
 * (http/responses.ts statusOf) and one JSON shape: {"error":{"code","message","details"}}.
 */
export type ErrorKind =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "too_large"
  | "unsupported_media_type"
  | "invalid"
  | "too_many_requests";

/** A typed domain error: its kind says how it is answered; `code` is the machine-readable name callers see. */
export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: unknown) =>
  new AppError("bad_request", "bad_request", message, details);
export const malformedBody = (message: string) => new AppError("bad_request", "malformed_body", message);
export const unauthorized = (message = "authentication required") =>
  new AppError("unauthorized", "unauthorized", message);
export const forbidden = (message = "not allowed") => new AppError("forbidden", "forbidden", message);
export const notFound = (what = "resource") => new AppError("not_found", "not_found", `${what} not found`);
export const conflict = (message: string, details?: unknown) => new AppError("conflict", "conflict", message, details);
export const tooLarge = (limit: number) =>
  new AppError("too_large", "payload_too_large", `request body exceeds ${limit} bytes`);
export const unsupportedMediaType = (message: string) =>
  new AppError("unsupported_media_type", "unsupported_media_type", message);
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new AppError("too_many_requests", "too_many_requests", message, { retry_after: retryAfterSeconds });

/**
 * True when `err` is a domain error of one of these kinds (forms show such errors again, anything else is thrown on).
 */
export const isErrorOf = (err: unknown, ...kinds: ErrorKind[]): err is AppError =>
  err instanceof AppError && kinds.includes(err.kind);

export type FieldIssue = { field: string; message: string };

export class ValidationError extends AppError {
  constructor(readonly issues: FieldIssue[]) {
    super("invalid", "validation_failed", issues.map((i) => `${i.field || "body"}: ${i.message}`).join("; "), issues);
  }
}

export function zodIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((i) => {
    const path = i.path.map(String);
    // Name each unknown key as the field at fault, rather than its parent object.
    if (i.code === "unrecognized_keys")
      return i.keys.map((k) => ({ field: [...path, k].join("."), message: "is not a known field" }));
    return [{ field: path.join("."), message: i.message }];
  });
}

/**
 * Parses input with a zod schema, raising a ValidationError that names each bad field
 * (NUL and lone surrogates anywhere included).
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const unstorable = unstorableText(input);
  if (unstorable.length) throw new ValidationError(unstorable);
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(zodIssues(result.error));
  return result.data;
}

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, details: details ?? null } };
}
