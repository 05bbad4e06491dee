import { createHmac, randomBytes } from "node:crypto";

/**
 * Signatures computed over the exact body bytes that are sent:
 * - X-Hub-Signature (sha1=…) and X-Hub-Signature-256 (sha256=…): hex HMAC keyed with the signature
 *   token as text, as Zammad and GitHub send them.
 * - Standard Webhooks (https://www.standardwebhooks.com): base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"
 *   keyed with the base64-decoded part of a whsec_ secret, "v1,<sig>"; several space-separated while
 *   a rotated-out secret still signs.
 */
const SECRET_PREFIX = "whsec_";

export function hubSignature(token: string, body: string): string {
  return `sha1=${createHmac("sha1", token).update(body, "utf8").digest("hex")}`;
}

export function hubSignature256(token: string, body: string): string {
  return `sha256=${createHmac("sha256", token).update(body, "utf8").digest("hex")}`;
}

/**
 * A new Standard Webhooks secret: whsec_ + base64 of `bytes` random bytes (24–64;
 * 48 gives 64 characters without padding).
 */
export function generateSigningSecret(bytes = 48): string {
  if (bytes < 24 || bytes > 64) throw new Error("a signing secret has 24 to 64 random bytes");
  return SECRET_PREFIX + randomBytes(bytes).toString("base64");
}

export function isSigningSecret(secret: string): boolean {
  if (!secret.startsWith(SECRET_PREFIX)) return false;
  const raw = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) return false;
  const n = Buffer.from(raw, "base64").length;
  return n >= 24 && n <= 64;
}

function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64");
}

/** One "v1,<base64>" signature. */
export function standardSignature(secret: string, id: string, timestampSeconds: number, body: string): string {
  return (
    "v1," + createHmac("sha256", secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`, "utf8").digest("base64")
  );
}

/** The webhook-signature header value: one signature per secret still signing, space-separated. */
export function standardSignatureHeader(secrets: string[], id: string, timestampSeconds: number, body: string): string {
  return secrets.map((s) => standardSignature(s, id, timestampSeconds, body)).join(" ");
}
