import { z } from "zod";
import type { Tx } from "../db/client";
import type { JobStatus } from "./schema";

const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] as const;

/** What a handler asks the sender to do; validated before sending (URLs come from admin settings). */
export const httpRequestSpecSchema = z.object({
  method: z.enum(HTTP_METHODS).default("POST"),
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
  body: z.string().optional(),
  auth: z
    .discriminatedUnion("type", [
      z.object({ type: z.literal("basic"), username: z.string(), password: z.string() }),
      z.object({ type: z.literal("bearer"), token: z.string().min(1) }),
    ])
    .optional(),
  /** Off only for LAN receivers with self-signed certificates, by an admin's explicit choice. */
  tlsVerify: z.boolean().default(true),
  /** Whole request: connect, send, headers and body. */
  timeoutMs: z.number().int().min(1).max(300_000).default(15_000),
  /** Response bytes read at most; the rest is not downloaded. */
  maxResponseBytes: z
    .number()
    .int()
    .min(0)
    .max(10 * 1024 * 1024)
    .default(256 * 1024),
  /** Values (API keys, signing secrets) to redact wherever they appear in the HTTP log. */
  secrets: z.array(z.string()).default([]),
});
export type HttpRequestSpec = z.input<typeof httpRequestSpecSchema>;
export type ValidHttpRequestSpec = z.output<typeof httpRequestSpecSchema>;

/** The schema's defaults, taken from it once. */
const SPEC_DEFAULTS = httpRequestSpecSchema.parse({ url: "http://defaults.invalid" });
const DEFAULTED = ["method", "headers", "tlsVerify", "timeoutMs", "maxResponseBytes", "secrets"] as const;

/**
 * A request built only from settings validated when they were saved (a webhook's): the schema's
 * defaults filled in without parsing it again (on every send that parse cost more than the signing).
 */
export function withSpecDefaults(spec: HttpRequestSpec): ValidHttpRequestSpec {
  const out = { ...spec } as Record<string, unknown>;
  for (const key of DEFAULTED) if (out[key] === undefined) out[key] = SPEC_DEFAULTS[key];
  return out as ValidHttpRequestSpec;
}

export type HttpErrorKind = "timeout" | "connect" | "tls" | "network";

/** What happened on the wire. `status` is absent when no response arrived (see `error`). */
export type HttpResult = {
  status?: number;
  headers: Record<string, string>;
  body: string;
  bodyTruncated: boolean;
  durationMs: number;
  error?: { kind: HttpErrorKind; message: string };
};

/**
 * How an attempt ends. The default rules (retry-policy.ts) cover webhooks; handlers override:
 * - success: the job is done (e.g. a 404 that means "nothing found").
 * - retry: try again later; `countsAsFailure: false` for "accepted, ask again later" answers (a 202
 *   "queued"), which neither use up attempts nor hurt the destination's health.
 * - fail: give up on this job now (e.g. a payload the receiver will never accept).
 * - disable: the destination is gone (410); its jobs wait, unattempted, until re-enabled.
 * - pause: hold the destination (e.g. 401: until its key changes) until `untilMs` or re-enabled.
 */
export type Outcome =
  | { kind: "success" }
  | { kind: "retry"; error: string; delayMs?: number; minDelayMs?: number; countsAsFailure?: boolean }
  | { kind: "fail"; error: string }
  | { kind: "disable"; reason: string }
  | { kind: "pause"; reason: string; untilMs?: number };

/** Exponential backoff: base·factor^(n-1), capped, then spread by ±jitter (a fraction). */
export type RetrySchedule = { baseMs: number; factor: number; maxMs: number; jitter: number };

/** A job as handlers and the UI see it. */
export type Job = {
  id: number;
  kind: string;
  destination: string;
  orderingKey: string | null;
  payload: unknown;
  status: JobStatus;
  blocked: boolean;
  attempts: number;
  failedAttempts: number;
  maxAttempts: number;
  runAt: Date;
  leaseUntil: Date | null;
  leaseOwner: string | null;
  deliveryId: string;
  redeliveryOf: number | null;
  lastError: string | null;
  lastStatus: number | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
};

/**
 * What webhooks, CRM sync and enrichment plug into the engine, one per job kind.
 * prepare() may do async work (read settings, sign the body) but must not write; onSuccess() runs
 * synchronously inside the transaction that marks the job succeeded, so results are stored exactly
 * when the job is recorded as done.
 */
export type DeliveryHandler = {
  /** Names the HTTP log facility: "webhook", "crm-sync", "clearbit". */
  facility: string;
  /** The request to send, or null when there is nothing to send (the job succeeds). */
  prepare(job: Job): Promise<HttpRequestSpec | null>;
  /**
   * True when prepare() builds its requests only from settings validated on saving (no templates):
   * they are sent as they are, with the defaults filled in; otherwise each is checked by the schema.
   */
  validRequests?: boolean;
  /** Return undefined to use the default rules (`fallback`). */
  classify?(job: Job, result: HttpResult, fallback: Outcome): Outcome | undefined | Promise<Outcome | undefined>;
  onSuccess?(tx: Tx, job: Job, result: HttpResult | null): Promise<void>;
  /** Backoff between attempts; a function to vary it per destination (e.g. a webhook endpoint's setting). */
  retrySchedule?: RetrySchedule | ((job: Job) => RetrySchedule | Promise<RetrySchedule>);
  /** Attempts in all before the job fails (default 5), fixed on the job at enqueue; enqueue's own maxAttempts wins. */
  maxAttempts?: number;
};

export type EnqueueInput = {
  kind: string;
  destination: string;
  orderingKey?: string | null;
  payload: unknown;
  /** Defaults to the handler's maxAttempts, else 5. */
  maxAttempts?: number;
  /** Not before this time (default: now). */
  runAt?: Date;
  /** Reuse an existing delivery id (redelivery); a new UUID otherwise. */
  deliveryId?: string;
};

export type DestinationOptions = { concurrency?: number | null; strictOrder?: boolean };
