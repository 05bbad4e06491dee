import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { classifyAnswer, lookupRequest, resetDelayMs, verifySignature } from "../../src/enrichment/provider";
import { DEFAULT_SETTINGS } from "../../src/enrichment/settings";
import type { HttpResult } from "../../src/delivery";

const result = (status: number, body = "", headers: Record<string, string> = {}): HttpResult => ({
  status,
  headers,
  body,
  bodyTruncated: false,
  durationMs: 1,
});
const fallback = { kind: "retry", error: "fallback" } as const;

describe("classifying answers", () => {
  test("200 and 404 succeed", () => {
    expect(classifyAnswer(result(200), 1, fallback)).toEqual({ kind: "success" });
    expect(classifyAnswer(result(404), 1, fallback)).toEqual({ kind: "success" });
  });
  test("202 retries without counting as a failure, backing off, or after Retry-After", () => {
    const first = classifyAnswer(result(202), 1, fallback);
    const third = classifyAnswer(result(202), 3, fallback);
    expect(first).toMatchObject({ kind: "retry", countsAsFailure: false, delayMs: 5000 });
    expect(third).toMatchObject({ delayMs: 20_000 });
    expect(classifyAnswer(result(202, "", { "retry-after": "2" }), 1, fallback)).toMatchObject({ delayMs: 2000 });
  });
  test("401/403 pause as Unauthorized, 402 pauses as over quota, 422 fails", () => {
    const body = JSON.stringify({ error: { type: "auth_required", message: "bad key" } });
    expect(classifyAnswer(result(401, body), 1, fallback)).toEqual({
      kind: "pause",
      reason: "Unauthorized: auth_required: bad key",
    });
    expect(classifyAnswer(result(403), 1, fallback)).toMatchObject({ kind: "pause" });
    expect(
      classifyAnswer(result(402, JSON.stringify({ error: { type: "over_quota", message: "quota" } })), 1, fallback),
    ).toEqual({ kind: "pause", reason: "Over quota: over_quota: quota" });
    expect(
      classifyAnswer(result(422, JSON.stringify({ error: { type: "params_invalid", message: "x" } })), 1, fallback),
    ).toEqual({ kind: "fail", error: "params_invalid: x" });
  });
  test("429 waits for Retry-After, else X-RateLimit-Reset", () => {
    expect(classifyAnswer(result(429, "", { "retry-after": "3" }), 1, fallback)).toMatchObject({
      kind: "retry",
      countsAsFailure: false,
      delayMs: 3000,
    });
    expect(classifyAnswer(result(429, "", { "x-ratelimit-reset": "7" }), 1, fallback)).toMatchObject({ delayMs: 7000 });
  });
  test("5xx and transport errors take the default retries", () => {
    expect(classifyAnswer(result(503), 1, fallback)).toBe(fallback);
    expect(
      classifyAnswer(
        { headers: {}, body: "", bodyTruncated: false, durationMs: 1, error: { kind: "timeout", message: "t" } },
        1,
        fallback,
      ),
    ).toBe(fallback);
  });
  test("X-RateLimit-Reset as delta or epoch seconds", () => {
    expect(resetDelayMs("5")).toBe(5000);
    expect(resetDelayMs(String(Math.floor(Date.now() / 1000) + 10))).toBeGreaterThan(8000);
    expect(resetDelayMs("soon")).toBeUndefined();
  });
});

describe("requests", () => {
  test("combined lookup with Bearer key, callback parameters, secrets to redact", () => {
    const spec = lookupRequest(
      { ...DEFAULT_SETTINGS, person_url: "http://127.0.0.1:9" },
      "sk_abc123456789",
      { type: "combined", email: "a+b@x.com" },
      "http://me/v1/callbacks/clearbit",
    );
    expect(spec.url).toBe(
      "http://127.0.0.1:9/v2/combined/find?email=a%2Bb%40x.com" +
        "&webhook_url=http%3A%2F%2Fme%2Fv1%2Fcallbacks%2Fclearbit&webhook_id=a%2Bb%40x.com",
    );
    expect(spec.auth).toEqual({ type: "bearer", token: "sk_abc123456789" });
    expect(spec.secrets).toEqual(["sk_abc123456789", "abc123456789"]);
  });
  test("streaming uses the stream host and no callback; company lookup by domain", () => {
    const s = { ...DEFAULT_SETTINGS, use_streaming: true, stream_url: "http://s" };
    expect(lookupRequest(s, "sk_k", { type: "combined", email: "a@x.com" }, "http://cb").url).toBe(
      "http://s/v2/combined/find?email=a%40x.com",
    );
    expect(lookupRequest(s, "sk_k", { type: "company", email: "a@x.com", domain: "x.com" }, null).url).toBe(
      "https://company.clearbit.com/v2/companies/find?domain=x.com",
    );
  });
});

test("callback signatures: HMAC-SHA1 of the raw body keyed with the key without sk_", () => {
  const body = '{"id":"a@x.com","status":200}';
  const good = "sha1=" + createHmac("sha1", "secret123").update(body).digest("hex");
  expect(verifySignature(body, good, "sk_secret123")).toBe(true);
  expect(verifySignature(body + " ", good, "sk_secret123")).toBe(false);
  expect(verifySignature(body, good, "sk_other")).toBe(false);
  expect(verifySignature(body, null, "sk_secret123")).toBe(false);
  expect(verifySignature(body, "sha1=zz", "sk_secret123")).toBe(false);
});
