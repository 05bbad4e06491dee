import { createHmac, timingSafeEqual } from "node:crypto";
import type { HttpRequestSpec, HttpResult, Outcome } from "../delivery";
import { parseRetryAfter } from "../delivery";
import { isLoopbackHost } from "../http/addresses";
import type { Answer } from "./mappings";
import type { ClearbitSettings } from "./settings";

/**
 * The Clearbit Enrichment API v2 contract, as request specs for the delivery engine and rules for
 * reading answers. Any Clearbit-compatible provider (Hunter's and Tomba's Clearbit-format endpoints,
 * the fake in test/) serves through the configurable base URLs.
 */
export type LookupPayload = { type: "combined"; email: string } | { type: "company"; email: string; domain: string };

/** Streaming lookups block until the answer is ready: give them time. */
const STREAM_TIMEOUT_MS = 60_000;
const TIMEOUT_MS = 15_000;
const QUEUED_BASE_MS = 5_000;
const QUEUED_MAX_MS = 10 * 60_000;

export function lookupRequest(
  s: ClearbitSettings,
  apiKey: string,
  payload: LookupPayload,
  callbackUrl: string | null,
): HttpRequestSpec {
  const secrets = [apiKey, apiKey.replace(/^sk_/, "")];
  if (payload.type === "company") {
    return {
      method: "GET",
      url: `${s.company_url}/v2/companies/find?domain=${encodeURIComponent(payload.domain)}`,
      headers: { Accept: "application/json" },
      auth: { type: "bearer", token: apiKey },
      timeoutMs: TIMEOUT_MS,
      secrets,
    };
  }
  const base = s.use_streaming ? s.stream_url : s.person_url;
  const query = new URLSearchParams({ email: payload.email });
  if (callbackUrl && !s.use_streaming) {
    query.set("webhook_url", callbackUrl);
    query.set("webhook_id", payload.email);
  }
  return {
    method: "GET",
    url: `${base}/v2/combined/find?${query}`,
    headers: { Accept: "application/json" },
    auth: { type: "bearer", token: apiKey },
    timeoutMs: s.use_streaming ? STREAM_TIMEOUT_MS : TIMEOUT_MS,
    secrets,
  };
}

/**
 * How queued lookups get their results: the streaming host answers when ready; callbacks need an
 * address the provider can reach (a base URL that is not loopback); otherwise we ask again (poll).
 */
export type ResultMode = { mode: "streaming" | "callbacks" | "polling"; callback_url: string | null; reason: string };

export function resultMode(
  s: Pick<ClearbitSettings, "use_streaming" | "use_callbacks">,
  baseUrl: string,
  callbackPath: string,
): ResultMode {
  if (s.use_streaming)
    return { mode: "streaming", callback_url: null, reason: "the streaming API answers once the lookup is done" };
  if (!s.use_callbacks)
    return {
      mode: "polling",
      callback_url: null,
      reason: "callbacks are switched off: queued lookups are asked again later",
    };
  if (!baseUrl)
    return {
      mode: "polling",
      callback_url: null,
      reason:
        "no base URL is set (--base-url), so the provider could not reach a callback: " +
        "queued lookups are asked again later",
    };
  if (isLoopbackHost(new URL(baseUrl).hostname))
    return {
      mode: "polling",
      callback_url: null,
      reason:
        `the base URL ${baseUrl} is a loopback address the provider cannot reach: ` +
        "queued lookups are asked again later",
    };
  return {
    mode: "callbacks",
    callback_url: `${baseUrl.replace(/\/+$/, "")}${callbackPath}`,
    reason: "the provider posts queued results to the callback URL",
  };
}

/** {"error":{"type","message"}} → "type: message" (or the status). */
export function providerError(result: HttpResult): string {
  try {
    const e = (JSON.parse(result.body) as { error?: { type?: string; message?: string } }).error;
    if (e?.type || e?.message) return [e.type, e.message].filter(Boolean).join(": ");
  } catch {
    // not JSON
  }
  return `HTTP ${result.status ?? "error"}`;
}

/** X-RateLimit-Reset as milliseconds from now: delta seconds, or epoch seconds. */
export function resetDelayMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value || !/^\d+(\.\d+)?$/.test(value.trim())) return undefined;
  const n = Number(value);
  return Math.max(0, n > 1e9 ? n * 1000 - now : n * 1000);
}

/**
 * How an answer ends the attempt: 200 and 404 succeed (onSuccess applies them), 202 asks again
 * later without counting as a failure, 401/403 and 402 pause the integration, 422 fails the job,
 * 429 waits for Retry-After / X-RateLimit-Reset; 5xx and timeouts follow the default retries.
 */
export function classifyAnswer(result: HttpResult, attempts: number, fallback: Outcome): Outcome {
  const status = result.status;
  const retryAfter = parseRetryAfter(result.headers["retry-after"]);
  switch (status) {
    case 200:
    case 404:
      return { kind: "success" };
    case 202:
      return {
        kind: "retry",
        error: "queued: the provider is looking it up",
        countsAsFailure: false,
        delayMs: retryAfter ?? Math.min(QUEUED_MAX_MS, QUEUED_BASE_MS * 2 ** Math.max(0, attempts - 1)),
      };
    case 401:
    case 403:
      return { kind: "pause", reason: `Unauthorized: ${providerError(result)}` };
    case 402:
      return { kind: "pause", reason: `Over quota: ${providerError(result)}` };
    case 422:
      return { kind: "fail", error: providerError(result) };
    case 429:
      return {
        kind: "retry",
        error: providerError(result),
        countsAsFailure: false,
        delayMs: retryAfter ?? resetDelayMs(result.headers["x-ratelimit-reset"]) ?? 60_000,
      };
    default:
      return fallback;
  }
}

const obj = (v: unknown): Record<string, unknown> | null =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

/** A combined answer ({person, company}); a company lookup's body is the company itself. */
export function parseAnswer(body: string, type: "combined" | "company" | "person" | "person_company"): Answer {
  const data = JSON.parse(body) as unknown;
  return answerOf(data, type);
}

export function answerOf(data: unknown, type: string): Answer {
  const o = obj(data);
  if (type === "company") return { person: null, company: o };
  if (type === "person") return { person: o, company: null };
  return { person: obj(o?.person), company: obj(o?.company) };
}

/** X-Request-Signature: sha1=<hex HMAC-SHA1 of the raw body, keyed with the API key without sk_>. */
export function verifySignature(rawBody: string, header: string | null, apiKey: string): boolean {
  const match = /^sha1=([0-9a-f]{40})$/i.exec(header?.trim() ?? "");
  if (!match) return false;
  const expected = createHmac("sha1", apiKey.replace(/^sk_/, "")).update(rawBody).digest();
  const sent = Buffer.from(match[1]!, "hex");
  return sent.length === expected.length && timingSafeEqual(sent, expected);
}
