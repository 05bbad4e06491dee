import type { HttpErrorKind, HttpResult, ValidHttpRequestSpec } from "./types";

const basicCredentials = (username: string, password: string) =>
  Buffer.from(`${username}:${password}`).toString("base64");

/** The headers the sender actually puts on the wire (auth included), for sending and for the log. */
export function requestHeaders(spec: ValidHttpRequestSpec): Record<string, string> {
  const headers: Record<string, string> = { "user-agent": "Switchboard", ...lowerCaseKeys(spec.headers) };
  if (spec.auth?.type === "basic")
    headers.authorization = `Basic ${basicCredentials(spec.auth.username, spec.auth.password)}`;
  if (spec.auth?.type === "bearer") headers.authorization = `Bearer ${spec.auth.token}`;
  return headers;
}

/**
 * Every secret value a request carries, as the redactor must look for it (an echoing receiver sends
 * them back): the spec's own secrets, the password and base64(user:password) of basic auth (also
 * base64url, as some echo them), the bearer token.
 */
export function secretsOf(spec: ValidHttpRequestSpec): string[] {
  const secrets = [...spec.secrets];
  if (spec.auth?.type === "basic") {
    const b64 = basicCredentials(spec.auth.username, spec.auth.password);
    secrets.push(spec.auth.password, b64, Buffer.from(b64, "base64").toString("base64url"));
  }
  if (spec.auth?.type === "bearer") secrets.push(spec.auth.token);
  return secrets;
}

/**
 * Sends one request. Redirects are not followed (a 3xx is the answer; following could leak
 * credentials to another host). The timeout covers the whole exchange, body included: Bun's fetch
 * has no separate connect timeout, so a dead host costs up to `timeoutMs`. The body is streamed and
 * reading stops at `maxResponseBytes`. `cancel` aborts it (shutdown). `headers`: requestHeaders(spec), when the
 * caller has them already (for the log). Never throws: failures are in `result.error`.
 */
export async function sendHttp(
  spec: ValidHttpRequestSpec,
  cancel?: AbortSignal,
  headers: Record<string, string> = requestHeaders(spec),
): Promise<HttpResult> {
  const started = performance.now();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, spec.timeoutMs);
  // Not AbortSignal.any: the long-lived cancel signal would keep every request's signal alive.
  const onCancel = () => controller.abort();
  cancel?.addEventListener("abort", onCancel, { once: true });
  if (cancel?.aborted) controller.abort();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const response = await fetch(spec.url, {
      method: spec.method,
      headers,
      body: spec.method === "GET" || spec.method === "HEAD" ? undefined : spec.body,
      redirect: "manual",
      signal: controller.signal,
      tls: { rejectUnauthorized: spec.tlsVerify },
    });
    const answered: Record<string, string> = {};
    for (const [name, value] of response.headers) answered[name] = value;
    const { body, truncated } = await readCapped(response, spec.maxResponseBytes);
    return { status: response.status, headers: answered, body, bodyTruncated: truncated, durationMs: elapsed() };
  } catch (err) {
    const kind: HttpErrorKind = timedOut ? "timeout" : errorKind(err);
    const message = timedOut
      ? `no complete answer within ${spec.timeoutMs} ms`
      : err instanceof Error
        ? err.message
        : String(err);
    return { headers: {}, body: "", bodyTruncated: false, durationMs: elapsed(), error: { kind, message } };
  } finally {
    clearTimeout(timer);
    cancel?.removeEventListener("abort", onCancel);
  }
}

async function readCapped(response: Response, cap: number): Promise<{ body: string; truncated: boolean }> {
  if (!response.body) return { body: "", truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = cap - size;
    if (value.byteLength > room) {
      chunks.push(value.subarray(0, room));
      size = cap;
      truncated = true;
      // Stop downloading: a receiver answering with megabytes must not fill our memory.
      await reader.cancel().catch(() => {});
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { body: new TextDecoder().decode(Buffer.concat(chunks)), truncated };
}

function errorKind(err: unknown): HttpErrorKind {
  const text = `${(err as { code?: string })?.code ?? ""} ${err instanceof Error ? err.message : String(err)}`;
  if (/CERT|SSL|TLS|self[- ]signed|UNABLE_TO_VERIFY|HOSTNAME_MISMATCH/i.test(text)) return "tls";
  if (/ConnectionRefused|ECONNREFUSED|connect|ENOTFOUND|EHOSTUNREACH|DNS/i.test(text)) return "connect";
  return "network";
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
