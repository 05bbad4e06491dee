import { describe, expect, test } from "bun:test";
import {
  backoffDelay,
  defaultOutcome,
  parseRetryAfter,
  retryDelay,
  SLOW_DOWN_MS,
} from "../../src/delivery/retry-policy";
import type { HttpResult } from "../../src/delivery/types";

const schedule = { baseMs: 1_000, factor: 2, maxMs: 10_000, jitter: 0.2 };
const result = (status?: number, headers: Record<string, string> = {}, error?: HttpResult["error"]): HttpResult => ({
  status,
  headers,
  body: "",
  bodyTruncated: false,
  durationMs: 1,
  error,
});

describe("backoff", () => {
  test("grows exponentially and is capped", () => {
    const mid = () => 0.5; // no jitter
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, schedule, mid))).toEqual([
      1_000, 2_000, 4_000, 8_000, 10_000, 10_000,
    ]);
  });

  test("jitter spreads within ±jitter and never above the cap", () => {
    expect(backoffDelay(2, schedule, () => 0)).toBe(1_600);
    expect(backoffDelay(2, schedule, () => 1)).toBe(2_400);
    expect(backoffDelay(5, schedule, () => 1)).toBe(10_000);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, schedule);
      expect(d).toBeGreaterThanOrEqual(3_200);
      expect(d).toBeLessThanOrEqual(4_800);
    }
  });
});

describe("Retry-After", () => {
  test("seconds and HTTP dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:05:00 GMT", now)).toBe(300_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("99999999", now)).toBe(24 * 3_600_000);
  });
});

describe("default classification", () => {
  test("2xx succeeds, 410 disables, others retry", () => {
    expect(defaultOutcome(result(204)).kind).toBe("success");
    expect(defaultOutcome(result(410)).kind).toBe("disable");
    expect(defaultOutcome(result(500))).toEqual({ kind: "retry", error: "HTTP 500" });
    expect(defaultOutcome(result(302)).kind).toBe("retry");
    expect(defaultOutcome(result(undefined, {}, { kind: "connect", message: "refused" })).kind).toBe("retry");
  });

  test("429 and timeouts wait at least a minute; Retry-After sets the delay", () => {
    const r429 = defaultOutcome(result(429));
    expect(r429.kind === "retry" && retryDelay(r429, 1, schedule)).toBeGreaterThanOrEqual(SLOW_DOWN_MS);
    const r429After = defaultOutcome(result(429, { "retry-after": "600" }));
    expect(r429After.kind === "retry" && retryDelay(r429After, 1, schedule)).toBe(600_000);
    const r429Short = defaultOutcome(result(429, { "retry-after": "1" }));
    expect(r429Short.kind === "retry" && retryDelay(r429Short, 1, schedule)).toBe(SLOW_DOWN_MS);
    const timeout = defaultOutcome(result(undefined, {}, { kind: "timeout", message: "slow" }));
    expect(timeout.kind === "retry" && retryDelay(timeout, 1, schedule)).toBe(SLOW_DOWN_MS);
    const r503 = defaultOutcome(result(503, { "retry-after": "7" }));
    expect(r503.kind === "retry" && retryDelay(r503, 3, schedule)).toBe(7_000);
  });
});
