import type { HttpResult, Outcome, RetrySchedule } from "./types";

/** Webhooks: 5 attempts in all, about 30 s, 3 min, 18 min, 2 h apart. */
export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = { baseMs: 30_000, factor: 6, maxMs: 6 * 3_600_000, jitter: 0.2 };
export const DEFAULT_MAX_ATTEMPTS = 5;
/** Rate limits and timeouts mean "you are too fast / I am overloaded": never come back sooner. */
export const SLOW_DOWN_MS = 60_000;
/** A Retry-After further out than this is treated as this (a broken header must not park a job for years). */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/** Delay before the next attempt after `failures` failed attempts (1 = after the first). */
export function backoffDelay(failures: number, schedule: RetrySchedule, random: () => number = Math.random): number {
  const exponent = Math.max(0, failures - 1);
  const raw = Math.min(schedule.maxMs, schedule.baseMs * schedule.factor ** exponent);
  const spread = 1 + schedule.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(Math.min(schedule.maxMs, raw * spread)));
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, date - now), MAX_RETRY_AFTER_MS);
}

/**
 * The default rules: 2xx succeeds; 410 disables the destination; 429 and timeouts back off at
 * least a minute; everything else (other statuses, 3xx as redirects are not followed, connection
 * errors) retries. Retry-After, when sent, sets the delay.
 */
export function defaultOutcome(result: HttpResult, now: number = Date.now()): Outcome {
  const { status, error } = result;
  if (status !== undefined && status >= 200 && status < 300) return { kind: "success" };
  if (status === 410) return { kind: "disable", reason: "the receiver answered 410 Gone" };
  const retryAfter = parseRetryAfter(result.headers["retry-after"], now);
  if (status === undefined) {
    const message = `${error?.kind ?? "network"} error: ${error?.message ?? "no response"}`;
    return { kind: "retry", error: message, ...(error?.kind === "timeout" ? { minDelayMs: SLOW_DOWN_MS } : {}) };
  }
  return {
    kind: "retry",
    error: `HTTP ${status}`,
    ...(retryAfter !== undefined ? { delayMs: retryAfter } : {}),
    ...(status === 429 ? { minDelayMs: SLOW_DOWN_MS } : {}),
  };
}

/** The delay a retry outcome asks for: its own delay (Retry-After) or the backoff, never below its floor. */
export function retryDelay(
  outcome: Extract<Outcome, { kind: "retry" }>,
  failures: number,
  schedule: RetrySchedule,
  random?: () => number,
): number {
  const delay = outcome.delayMs ?? backoffDelay(Math.max(1, failures), schedule, random);
  return Math.max(delay, outcome.minDelayMs ?? 0);
}
