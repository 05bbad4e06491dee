import { describe, expect, test } from "bun:test";
import { httpRequestSpecSchema, withSpecDefaults, type HttpRequestSpec } from "../../src/delivery/types";

describe("a request built from validated settings (validRequests handlers)", () => {
  test("gets exactly the defaults the schema would give, without being parsed again", () => {
    const bare: HttpRequestSpec = { url: "https://example.com/hook", body: "{}" };
    expect(withSpecDefaults(bare)).toEqual(httpRequestSpecSchema.parse(bare));
    const full: HttpRequestSpec = {
      method: "PUT",
      url: "http://10.0.0.5:8080/in",
      headers: { "X-A": "1" },
      body: "x",
      auth: { type: "bearer", token: "t0ken" },
      tlsVerify: false,
      timeoutMs: 2_000,
      maxResponseBytes: 10,
      secrets: ["s3cret"],
    };
    expect(withSpecDefaults(full)).toEqual(httpRequestSpecSchema.parse(full));
    // Set explicitly to undefined (a webhook without auth): still the default.
    expect(withSpecDefaults({ ...bare, timeoutMs: undefined }).timeoutMs).toBe(15_000);
  });
});
