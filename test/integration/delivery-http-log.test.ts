import { afterEach, describe, expect, test } from "bun:test";
import {
  LOG_BODY_CAP,
  pruneHttpLog,
  recordHttpAttempt,
  recordHttpAttempts,
  type HttpAttempt,
} from "../../src/delivery/http-log";
import { REDACTED } from "../../src/delivery/redaction";
import { postTo, startEngine, type EngineFixture } from "../support/delivery";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { startTestServer } from "../support/server";

let fx: EngineFixture | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await fx?.close();
  await receiver?.stop();
  fx = receiver = undefined;
});

describe("HTTP log", () => {
  test("every attempt is logged with secrets, credentials and signatures redacted", async () => {
    const apiKey = "ck_live_0123456789";
    let n = 0;
    receiver = startReceiver(() => ({
      status: n++ === 0 ? 500 : 200,
      headers: { "set-cookie": "s=1", "x-echo": apiKey },
      body: `{"seen":"${apiKey}"}`,
    }));
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register(
      "test",
      postTo(receiver.url, {
        facility: "crm-sync",
        retrySchedule: { baseMs: 10, factor: 1, maxMs: 10, jitter: 0 },
        spec: {
          url: `${receiver.url}/contacts?key=${apiKey}`,
          headers: { "x-hub-signature-256": "sha256=deadbeef", "content-type": "application/json" },
          body: JSON.stringify({ key: apiKey, name: "Ada" }),
          auth: { type: "bearer", token: "bearer-token-secret" },
          secrets: [apiKey],
        },
      }),
    );
    const job = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "crm:1", payload: {} }),
    );
    await eventually(async () => (await engine.getJob(job.id))?.status === "succeeded");
    const entries = await engine.listHttpLog({ jobId: job.id });
    expect(entries.map((e) => [e.attempt, e.responseStatus])).toEqual([
      [2, 200],
      [1, 500],
    ]);
    const e = entries[0]!;
    expect(e).toMatchObject({
      facility: "crm-sync",
      direction: "outbound",
      method: "POST",
      deliveryId: job.deliveryId,
      destination: "crm:1",
      error: null,
    });
    expect(e.url).toBe(`${receiver.url}/contacts?key=${REDACTED}`);
    expect(e.requestHeaders.authorization).toBe(REDACTED);
    expect(e.requestHeaders["x-hub-signature-256"]).toBe(REDACTED);
    expect(e.requestBody).toBe(`{"key":"${REDACTED}","name":"Ada"}`);
    expect(e.responseHeaders!["set-cookie"]).toBe(REDACTED);
    expect(e.responseHeaders!["x-echo"]).toBe(REDACTED);
    expect(e.responseBody).toBe(`{"seen":"${REDACTED}"}`);
    expect(JSON.stringify(entries)).not.toContain(apiKey);
    expect(JSON.stringify(entries)).not.toContain("bearer-token-secret");
    expect(await engine.getHttpLogEntry(e.id)).toEqual(e);
    expect((await engine.listHttpLog({ failedOnly: true })).map((x) => x.id)).toEqual([entries[1]!.id]);
    expect(await engine.listHttpLog({ facility: "webhook" })).toHaveLength(0);
    expect((await engine.listHttpLog({ beforeId: e.id })).map((x) => x.id)).toEqual([entries[1]!.id]);
  });

  test("transport errors are logged; long bodies are truncated", async () => {
    fx = await startEngine();
    const { db } = fx;
    const id = await db.transaction((tx) =>
      recordHttpAttempt(tx, {
        facility: "webhook",
        method: "POST",
        url: "http://127.0.0.1:1/x",
        requestHeaders: {},
        requestBody: "x".repeat(LOG_BODY_CAP * 2),
        result: {
          headers: {},
          body: "",
          bodyTruncated: false,
          durationMs: 3,
          error: { kind: "connect", message: "refused" },
        },
      }),
    );
    const e = (await fx.engine.getHttpLogEntry(id))!;
    expect(e).toMatchObject({ responseStatus: null, responseBody: null, error: "connect: refused" });
    expect(e.requestBody!.length).toBeLessThan(LOG_BODY_CAP + 20);
    expect(e.requestBody).toEndWith("[truncated]");
  });

  test("pruning removes entries past the age limit, then the oldest beyond the size budget", async () => {
    fx = await startEngine({}, false);
    const { db } = fx;
    const now = Date.now();
    const add = (ageMs: number) =>
      db.transaction((tx) =>
        recordHttpAttempt(tx, {
          facility: "webhook",
          method: "POST",
          url: "http://x.test/",
          requestHeaders: {},
          requestBody: "b".repeat(800),
          result: { status: 200, headers: {}, body: "", bodyTruncated: false, durationMs: 1 },
          at: new Date(now - ageMs),
        }),
      );
    const old = [await add(10 * 86_400_000), await add(9 * 86_400_000)];
    const recent: number[] = [];
    for (let i = 0; i < 10; i++) recent.push(await add(10 - i));
    const sizeOfOne = (await fx.engine.getHttpLogEntry(recent[0]!))!.sizeBytes;
    const { deleted } = await pruneHttpLog(db, { maxAgeMs: 7 * 86_400_000, maxBytes: sizeOfOne * 4 }, now);
    expect(deleted).toBe(2 + 6);
    const left = (await fx.engine.listHttpLog({ limit: 100 })).map((e) => e.id);
    expect(left).toEqual(recent.slice(6).reverse());
    expect(old.some((id) => left.includes(id))).toBe(false);
  });

  test("a cron schedule prunes the log (and finished jobs)", async () => {
    const server = await startTestServer();
    try {
      const { db } = server.ctx;
      await db.transaction((tx) =>
        recordHttpAttempt(tx, {
          facility: "webhook",
          method: "GET",
          url: "http://x.test/",
          requestHeaders: {},
          result: { status: 200, headers: {}, body: "", bodyTruncated: false, durationMs: 1 },
          at: new Date(0),
        }),
      );
      expect(await server.ctx.delivery.listHttpLog()).toHaveLength(1);
      await server.schedules.trigger("delivery-pruning");
      expect(await server.ctx.delivery.listHttpLog()).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  test("a tick's batch of attempts is logged, in order, as one by one would log each", async () => {
    const server = await startTestServer();
    try {
      const { db } = server.ctx;
      // More than one multi-row insert holds: the batch is split.
      const attempts = Array.from(
        { length: 70 },
        (_, i): HttpAttempt => ({
          facility: i % 2 ? "webhook" : "crm-sync",
          method: "POST",
          url: `http://x.test/${i}?key=secret-${i}`,
          requestHeaders: { authorization: `Bearer secret-${i}`, "x-n": String(i) },
          requestBody: i === 3 ? "y".repeat(LOG_BODY_CAP + 10) : `{"key":"secret-${i}"}`,
          result:
            i % 7 === 0
              ? {
                  headers: {},
                  body: "",
                  bodyTruncated: false,
                  durationMs: i,
                  error: { kind: "timeout", message: "slow" },
                }
              : {
                  status: 200 + i,
                  headers: { "x-echo": `secret-${i}` },
                  body: "ok",
                  bodyTruncated: i === 5,
                  durationMs: i,
                },
          attempt: i + 1,
          deliveryId: `d-${i}`,
          jobId: 1000 + i,
          destination: `webhook:${i}`,
          secrets: [`secret-${i}`],
          at: new Date(1_765_000_000_000 + i),
        }),
      );
      await db.transaction((tx) => recordHttpAttempts(tx, attempts));
      const batched = (await server.ctx.delivery.listHttpLog({ limit: 200 })).reverse();
      for (const a of attempts) await db.transaction((tx) => recordHttpAttempt(tx, a));
      const single = (await server.ctx.delivery.listHttpLog({ limit: 200 })).reverse().slice(attempts.length);
      const withoutId = ({ id: _, ...rest }: { id: number }) => rest;
      expect(batched.map(withoutId)).toEqual(single.map(withoutId));
      expect(batched.map((e) => e.deliveryId)).toEqual(attempts.map((a) => a.deliveryId!));
      expect(JSON.stringify(batched)).not.toContain("secret-");
    } finally {
      await server.close();
    }
  });
});
