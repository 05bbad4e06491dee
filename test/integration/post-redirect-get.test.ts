import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { signIn, setupAdmin, startTestServer, type Browser, type TestServer } from "../support/server";
import { rowsOf } from "../support/store";

/**
 * Every successful admin POST ends in a 303, so a reload never posts again; secrets shown once
 * wait on the server for the redirect's page, are shown there once and never travel in a URL or cookie.
 */
let server: TestServer;
let admin: Browser;
let receiver: Receiver;
beforeAll(async () => {
  receiver = startReceiver(() => ({ status: 500, body: "down" }));
  server = await startTestServer();
  admin = await setupAdmin(server);
});
afterAll(async () => {
  await server.close();
  await receiver.stop();
});

const count = async (table: string) =>
  (await rowsOf<{ n: number }>(server.ctx.db, `SELECT count(*) AS n FROM ${table}`))[0]!.n;

/** A 303 whose Location and cookies carry no part of the page's secret. */
async function expectRedirect(res: Response, location: RegExp) {
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toMatch(location);
  return res.headers.get("location")!;
}

/** The once-shown secret on the redirect's page, then gone from the same page. */
async function shownOnce(res: Response, marker: RegExp): Promise<string> {
  const location = res.headers.get("location")!;
  const first = await (await admin.get(location)).text();
  const secret = marker.exec(first)?.[1];
  expect(secret).toBeTruthy();
  for (const c of res.headers.getSetCookie()) expect(decodeURIComponent(c)).not.toContain(secret!);
  expect(location).not.toContain(secret!);
  const again = await (await admin.get(location)).text();
  expect(again).not.toContain(secret!);
  expect(again).not.toMatch(marker);
  return secret!;
}

const hookForm = (url: string) => ({
  name: "PRG hook",
  url,
  method: "POST",
  auth_type: "none",
  timeout_seconds: "5",
  max_attempts: "1",
  retry_base_seconds: "1",
  active: "on",
});

describe("successful admin POSTs answer 303", () => {
  let hookId: number;

  test("create webhook: 303 to its page, the signing secret shown there once", async () => {
    const before = await count("webhooks");
    const res = await admin.submit("/webhooks/new", "/webhooks", hookForm(`${receiver.url}/prg`));
    const location = await expectRedirect(res, /^\/webhooks\/\d+$/);
    hookId = Number(location.split("/").pop());
    expect(await count("webhooks")).toBe(before + 1);
    const secret = await shownOnce(res, /id="new-secret">(whsec_[^<]+)</);
    expect(secret.length).toBeGreaterThan(20);
  });

  test("rotate secret: 303 back to the webhook, the new secret shown once", async () => {
    const res = await admin.submit(`/webhooks/${hookId}`, `/webhooks/${hookId}/rotate`, { grace_hours: "1" });
    await expectRedirect(res, new RegExp(`^/webhooks/${hookId}$`));
    await shownOnce(res, /id="new-secret">(whsec_[^<]+)</);
  });

  test("the secret waits for the session that made it, not another admin's", async () => {
    const other = await signIn(server);
    const res = await admin.submit(`/webhooks/${hookId}`, `/webhooks/${hookId}/rotate`, { grace_hours: "0" });
    expect(await (await other.get(`/webhooks/${hookId}`)).text()).not.toContain('id="new-secret"');
    await shownOnce(res, /id="new-secret">(whsec_[^<]+)</);
  });

  test("create token and write key: 303, the secret shown once", async () => {
    const tokens = await count("api_tokens");
    const token = await admin.submit("/tokens", "/tokens", { name: "prg-token" });
    await expectRedirect(token, /^\/tokens$/);
    expect(await count("api_tokens")).toBe(tokens + 1);
    await shownOnce(token, /id="new-token">([^<]+)</);

    const keys = await count("write_keys");
    const key = await admin.submit("/write-keys", "/write-keys", { name: "prg-key" });
    await expectRedirect(key, /^\/write-keys$/);
    expect(await count("write_keys")).toBe(keys + 1);
    await shownOnce(key, /id="new-write-key">([^<]+)</);
  });

  test("create trigger and person: 303 to the new record", async () => {
    const trigger = await admin.submit("/triggers/new", "/triggers", {
      name: "PRG trigger",
      active: "on",
      events: "ticket.created",
      match: "all",
      webhook_ids: String(hookId),
    });
    await expectRedirect(trigger, /^\/triggers\/\d+$/);
    const person = await admin.submit("/people/new", "/people", { email: "prg@example.com", active: "true" });
    await expectRedirect(person, /^\/people\/\d+$/);
  });

  test("redeliver a failed delivery: 303 to the new delivery", async () => {
    const sent = await admin.submit(`/webhooks/${hookId}`, `/webhooks/${hookId}/test`, { sample: "user" });
    const location = await expectRedirect(sent, /^\/webhooks\/\d+\/deliveries\/\d+$/);
    const jobId = Number(location.split("/").pop());
    await eventually(async () => (await server.ctx.delivery.getJob(jobId))?.status === "failed");
    const res = await admin.submit(location, `${location}/redeliver`, {});
    await expectRedirect(res, new RegExp(`^/webhooks/${hookId}/deliveries/\\d+$`));
  });
});
