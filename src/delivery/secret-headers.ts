import { z } from "zod";
import { ValidationError } from "../errors";
import { SECRET_MASK, type SecretBox } from "../secrets";
import { isHeaderName, isSendableHeaderValue } from "./header-value";

/**
 * Secret custom headers (an X-Api-Key): stored as {name: sealed value} (names are not secret), shown
 * as {name: SECRET_MASK} after saving, sent in clear, redacted wherever the HTTP log would show them.
 */
export type SealedHeaders = Record<string, string>;

export const secretHeadersSchema = z.record(z.string(), z.string().max(4000)).superRefine((h, ctx) => {
  if (Object.keys(h).length > 20) ctx.addIssue({ code: "custom", message: "at most 20 secret headers" });
  for (const [name, value] of Object.entries(h)) {
    if (!isHeaderName(name)) ctx.addIssue({ code: "custom", path: [name], message: "is not a valid header name" });
    else if (!value) ctx.addIssue({ code: "custom", path: [name], message: "must not be empty" });
    else if (value === SECRET_MASK) continue;
    else if (!isSendableHeaderValue(value) || /[\r\n\0]/.test(value))
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: "must be Latin-1 text without line breaks or control characters",
      });
  }
});

export const maskedHeaders = (sealed: SealedHeaders | null): Record<string, string> =>
  Object.fromEntries(Object.keys(sealed ?? {}).map((name) => [name, SECRET_MASK]));

/**
 * The sealed set after a save: `input` replaces the set (undefined keeps it); a value equal to the
 * mask keeps that header's saved value. `plainNames` are the non-secret headers: a name in both is refused.
 */
export async function sealSecretHeaders(
  box: SecretBox,
  input: Record<string, string> | undefined,
  saved: SealedHeaders | null,
  plainNames: string[],
  field = "secret_headers",
): Promise<SealedHeaders | null> {
  if (input === undefined) return saved;
  const plain = new Set(plainNames.map((n) => n.toLowerCase()));
  const out: SealedHeaders = {};
  for (const [name, value] of Object.entries(input)) {
    if (plain.has(name.toLowerCase()))
      throw new ValidationError([{ field: `${field}.${name}`, message: "is also a plain header; keep one of them" }]);
    if (value === SECRET_MASK) {
      const kept = saved?.[name];
      if (!kept)
        throw new ValidationError([
          { field: `${field}.${name}`, message: "has no saved value to keep; enter the value" },
        ]);
      out[name] = kept;
    } else out[name] = await box.encrypt(value);
  }
  return Object.keys(out).length ? out : null;
}

/** The clear headers to send. */
export async function openSecretHeaders(box: SecretBox, sealed: SealedHeaders | null): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(sealed ?? {})) out[name] = await box.decrypt(value);
  return out;
}
