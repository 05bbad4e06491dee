import type { z } from "zod";
import { unstorableText } from "./clean-text";

/**
 * Typed errors the domain raises; the HTTP layer maps each to one status and one JSON shape:
 * {"error":{"code","message","details"}}.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: unknown) => new AppError(400, "bad_request", message, details);
export const unauthorized = (message = "authentication required") => new AppError(401, "unauthorized", message);
export const forbidden = (message = "not allowed") => new AppError(403, "forbidden", message);
export const notFound = (what = "resource") => new AppError(404, "not_found", `${what} not found`);
export const conflict = (message: string, details?: unknown) => new AppError(409, "conflict", message, details);
export const tooLarge = (limit: number) => new AppError(413, "payload_too_large", `request body exceeds ${limit} bytes`);
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new AppError(429, "too_many_requests", message, { retry_after: retryAfterSeconds });

export type FieldIssue = { field: string; message: string };

export class ValidationError extends AppError {
  constructor(readonly issues: FieldIssue[]) {
    super(422, "validation_failed", issues.map((i) => `${i.field || "body"}: ${i.message}`).join("; "), issues);
  }
}

export function zodIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((i) => {
    const path = i.path.map(String);
    // Name each unknown key as the field at fault, rather than its parent object.
    if (i.code === "unrecognized_keys") return i.keys.map((k) => ({ field: [...path, k].join("."), message: "is not a known field" }));
    return [{ field: path.join("."), message: i.message }];
  });
}

/** Parses input with a zod schema, raising a ValidationError that names each bad field (NUL and lone surrogates anywhere included). */
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
