import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi } from "../support/api";
import { eventually, startReceiver, type Receiver } from "../support/receiver";

/** Five people, each sent to a webhook and a CRM sync: five deliveries, ten HTTP log entries, five CRM log entries. */
async function seedLists(receiver: Receiver) {
  const api = await startApi();
  const hook = (await api.call("POST", "/api/v1/webhooks", { name: "pages", url: `${receiver.url}/hook` })).body;
  expect(
    (await api.call("POST", "/api/v1/triggers", { name: "people", events: ["user.created"], webhook_ids: [hook.id] }))
      .status,
  ).toBe(201);
  const sync = await api.call("POST", "/api/v1/crm_syncs", {
    name: "pages",
    create: { method: "POST", url: `${receiver.url}/crm`, data: '{"email": "{{ person.email }}"}', create_only: true },
  });
  expect(sync.status).toBe(201);
  for (let i = 0; i < 5; i++)
    expect((await api.call("POST", "/api/v1/users", { email: `page${i}@example.com` })).status).toBe(201);
  await eventually(() => receiver.requests.length === 10, 20_000, "5 deliveries and 5 CRM calls");
  // Attempts are logged as they finish; wait for the last ones to be written.
  for (let i = 0; (await api.call("GET", "/api/v1/http_log?limit=50")).body.data.length < 10; i++) {
    if (i > 200) throw new Error("attempts not logged");
    await Bun.sleep(20);
  }
  return { api, webhookId: hook.id as number, syncId: sync.body.id as number };
}

/** One pagination style: every list answers `next_cursor` and takes it back as `cursor`. */
describe("keyset cursors on every list", () => {
  const receiver = startReceiver(() => ({ status: 200, body: '{"id": 1}' }));
  let seeded: Awaited<ReturnType<typeof seedLists>>;
  beforeAll(async () => {
    seeded = await seedLists(receiver);
  });
  afterAll(async () => {
    await seeded.api.server.close();
    await receiver.stop();
  });

  /** Walks a list two at a time: every page but the last is full, ids never repeat. */
  async function walk(path: string): Promise<number[]> {
    const ids: number[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const sep = path.includes("?") ? "&" : "?";
      const res = await seeded.api.call(
        "GET",
        `${path}${sep}limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      expect(res.status).toBe(200);
      ids.push(...res.body.data.map((e: { id: number }) => e.id));
      cursor = res.body.next_cursor;
      if (cursor === null) return ids;
      expect(typeof cursor).toBe("string");
      expect(res.body.data.length).toBe(2);
    }
    throw new Error("the list never ended");
  }

  test("webhook deliveries, the HTTP log and a CRM sync's log page by cursor, newest first", async () => {
    for (const path of [
      `/api/v1/webhooks/${seeded.webhookId}/deliveries`,
      "/api/v1/http_log?facility=webhook",
      `/api/v1/crm_syncs/${seeded.syncId}/logs`,
    ]) {
      const ids = await walk(path);
      expect([path, ids.length, new Set(ids).size]).toEqual([path, 5, 5]);
      expect(ids).toEqual([...ids].sort((a, b) => b - a));
    }
  });

  test("a cursor from nowhere is a 400 naming the cursor; before_id still works for deliveries", async () => {
    for (const path of [
      `/api/v1/webhooks/${seeded.webhookId}/deliveries`,
      "/api/v1/http_log",
      `/api/v1/crm_syncs/${seeded.syncId}/logs`,
      "/api/v1/users",
    ]) {
      const res = await seeded.api.call("GET", `${path}?cursor=${Buffer.from('["x", 1]').toString("base64url")}`);
      expect([path, res.status, res.body.error.details?.[0]?.field]).toEqual([path, 400, "cursor"]);
    }
    const all = (await seeded.api.call("GET", `/api/v1/webhooks/${seeded.webhookId}/deliveries`)).body.data.map(
      (d: { id: number }) => d.id,
    );
    const older = (
      await seeded.api.call("GET", `/api/v1/webhooks/${seeded.webhookId}/deliveries?before_id=${all[1]}`)
    ).body.data.map((d: { id: number }) => d.id);
    expect(older).toEqual(all.slice(2));
  });
});
