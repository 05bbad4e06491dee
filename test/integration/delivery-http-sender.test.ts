import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sendHttp } from "../../src/delivery/http-sender";
import { httpRequestSpecSchema, type HttpRequestSpec } from "../../src/delivery/types";
import { selfSignedCert, startReceiver, type Receiver } from "../support/receiver";

const send = (spec: HttpRequestSpec) => sendHttp(httpRequestSpecSchema.parse(spec));

let plain: Receiver;
let tls: Receiver;
beforeAll(() => {
  plain = startReceiver();
  tls = startReceiver(() => ({ status: 200, body: "secure" }), selfSignedCert());
});
afterAll(async () => {
  await plain.stop();
  await tls.stop();
});

describe("HTTP sender", () => {
  test("sends method, headers, body and basic or bearer auth", async () => {
    plain.answer(() => ({ status: 201, headers: { "x-answer": "yes" }, body: "created" }));
    const r = await send({
      method: "PUT",
      url: plain.url + "/a?b=1",
      headers: { "X-Custom": "1" },
      body: "hello",
      auth: { type: "basic", username: "u", password: "p" },
    });
    expect(r).toMatchObject({ status: 201, body: "created", bodyTruncated: false });
    expect(r.headers["x-answer"]).toBe("yes");
    const got = plain.requests.at(-1)!;
    expect(got).toMatchObject({ method: "PUT", path: "/a?b=1", body: "hello" });
    expect(got.headers["x-custom"]).toBe("1");
    expect(got.headers.authorization).toBe(`Basic ${btoa("u:p")}`);
    await send({ url: plain.url, auth: { type: "bearer", token: "tok" } });
    expect(plain.requests.at(-1)!.headers.authorization).toBe("Bearer tok");
  });

  test("redirects are not followed", async () => {
    plain.answer((req) =>
      req.path === "/moved" ? { status: 302, headers: { location: plain.url + "/target" } } : { status: 200 },
    );
    const before = plain.requests.length;
    const r = await send({ url: plain.url + "/moved" });
    expect(r.status).toBe(302);
    expect(plain.requests.length).toBe(before + 1);
  });

  test("the response body is read up to the cap only", async () => {
    const big = new Uint8Array(2 * 1024 * 1024).fill(65);
    plain.answer(() => ({ status: 200, body: big }));
    const r = await send({ url: plain.url, maxResponseBytes: 1000 });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(1000);
    expect(r.bodyTruncated).toBe(true);
    plain.answer(() => ({ status: 200, body: "x".repeat(1000) }));
    const exact = await send({ url: plain.url, maxResponseBytes: 1000 });
    expect(exact.bodyTruncated).toBe(false);
  });

  test("a slow receiver times out", async () => {
    plain.answer(() => ({ status: 200, delayMs: 3_000 }));
    const r = await send({ url: plain.url, timeoutMs: 200 });
    expect(r.status).toBeUndefined();
    expect(r.error?.kind).toBe("timeout");
    plain.answer(() => ({ status: 200 }));
  });

  test("a refused connection is an error, not an exception", async () => {
    const gone = startReceiver();
    const url = gone.url;
    await gone.stop();
    const r = await send({ url, timeoutMs: 2_000 });
    expect(r.status).toBeUndefined();
    expect(["connect", "network"]).toContain(r.error!.kind);
  });

  test("TLS verification on refuses a self-signed certificate; off accepts it", async () => {
    const verified = await send({ url: tls.url, method: "GET" });
    expect(verified.status).toBeUndefined();
    expect(verified.error?.kind).toBe("tls");
    const unverified = await send({ url: tls.url, method: "GET", tlsVerify: false });
    expect(unverified).toMatchObject({ status: 200, body: "secure" });
  });
});
