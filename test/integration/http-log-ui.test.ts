import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { postTo } from "../support/delivery";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { type Browser, createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let admin: Browser;
let token: string;
let receiver: Receiver;

beforeAll(async () => {
  server = await startTestServer();
  admin = await setupAdmin(server);
  token = await createToken(admin);
  receiver = startReceiver((_req, i) =>
    i === 0 ? { status: 500, body: "boom" } : { status: 200, body: '{"ok":true}' },
  );
  server.ctx.delivery.register(
    "log-test",
    postTo(receiver.url, {
      maxAttempts: 1,
      spec: { headers: { authorization: "Bearer super-secret-value", "content-type": "application/json" } },
    }),
  );
  await server.ctx.db.transaction(async (tx) => {
    await server.ctx.delivery.enqueue(tx, { kind: "log-test", destination: "log-test:1", payload: { hello: "world" } });
  });
  await receiver.waitFor(1);
  await eventually(async () => (await server.ctx.delivery.listHttpLog({})).length === 1);
});
afterAll(async () => {
  await receiver.stop();
  await server.close();
});

describe("the HTTP log", () => {
  test("the Logs page lists attempts, filters failures, and shows a redacted detail", async () => {
    const list = await (await admin.get("/logs?failed_only=true")).text();
    expect(list).toContain("log-test:1");
    expect(list).toContain("500");
    const id = (await server.ctx.delivery.listHttpLog({}))[0]!.id;
    const detail = await (await admin.get(`/logs/${id}`)).text();
    expect(detail).toContain("boom");
    expect(detail).toContain("hello");
    expect(detail).not.toContain("super-secret-value");
    expect((await admin.get("/logs?facility=clearbit")).status).toBe(200);
  });

  test("redeliver from the log sends the same delivery again", async () => {
    const first = (await server.ctx.delivery.listHttpLog({}))[0]!;
    const res = await admin.submit(`/logs/${first.id}`, `/logs/${first.id}/redeliver`, {});
    expect(res.status).toBe(303);
    await receiver.waitFor(2);
    await eventually(async () => (await server.ctx.delivery.listHttpLog({})).length === 2);
    const again = (await server.ctx.delivery.listHttpLog({}))[0]!;
    expect(again.responseStatus).toBe(200);
    expect(again.deliveryId).toBe(first.deliveryId!);
  });

  test("the same through the API", async () => {
    const res = await fetch(`${server.url}/api/v1/http_log?limit=1`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.json();
    expect(body.data).toHaveLength(1);
    expect(JSON.stringify(body)).not.toContain("super-secret-value");
    const one = await fetch(`${server.url}/api/v1/http_log/${body.data[0].id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect((await one.json()).facility).toBe("webhook");
    expect(
      (await fetch(`${server.url}/api/v1/http_log?limit=9999`, { headers: { authorization: `Bearer ${token}` } }))
        .status,
    ).toBe(422);
  });
});
