import { describe, expect, test } from "bun:test";
import { REDACTED, Redactor } from "../../src/delivery/redaction";

describe("redaction", () => {
  test("credential and signature headers are hidden", () => {
    const r = new Redactor([]);
    const out = r.headers({
      authorization: "Bearer x",
      "Proxy-Authorization": "Basic y",
      cookie: "a=b",
      "x-hub-signature-256": "sha256=abc",
      "webhook-signature": "v1,abc",
      "x-request-signature": "abc",
      "content-type": "application/json",
    });
    expect(out).toEqual({
      authorization: REDACTED,
      "Proxy-Authorization": REDACTED,
      cookie: REDACTED,
      "x-hub-signature-256": REDACTED,
      "webhook-signature": REDACTED,
      "x-request-signature": REDACTED,
      "content-type": "application/json",
    });
  });

  test("declared secrets vanish from URLs, bodies and header values in every encoding", () => {
    const secret = 'sk/live "key"&1';
    const r = new Redactor([secret]);
    expect(r.url(`https://api.example/x?key=${encodeURIComponent(secret)}`)).toBe(
      `https://api.example/x?key=${REDACTED}`,
    );
    expect(r.text(JSON.stringify({ token: secret }))).toBe(`{"token":"${REDACTED}"}`);
    expect(r.text(new URLSearchParams({ k: secret }).toString())).toBe(`k=${REDACTED}`);
    expect(r.headers({ "x-api-key": secret })).toEqual({ "x-api-key": REDACTED });
  });

  test("URL passwords are hidden", () => {
    expect(new Redactor([]).url("https://user:hunter22@example.com/x")).toBe("https://user:REDACTED@example.com/x");
  });
});
