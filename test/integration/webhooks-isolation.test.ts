import { expect, test } from "bun:test";
import { startApi } from "../support/api";
import { eventually, startReceiver } from "../support/receiver";

test("a hanging endpoint and a dead one do not hold back deliveries to a healthy endpoint", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const hanging = startReceiver(async () => (await released, { status: 200 }));
  const healthy = startReceiver();
  const api = await startApi();
  try {
    const ids: number[] = [];
    for (const [name, url] of [
      ["healthy", healthy.url],
      ["hanging", hanging.url],
      ["dead", "http://127.0.0.1:9/"],
    ] as const) {
      ids.push((await api.call("POST", "/api/v1/webhooks", { name, url, timeout_seconds: 120 })).body.id);
    }
    await api.call("POST", "/api/v1/triggers", { name: "all", events: ["organization.created"], webhook_ids: ids });
    const names = Array.from({ length: 12 }, (_, i) => `org ${i}`);
    for (const name of names) await api.call("POST", "/api/v1/organizations", { name });
    // Every delivery reached the healthy endpoint, one per organization, while the hanging one holds its requests.
    const delivered = await healthy.waitFor(12);
    expect(delivered.map((r) => JSON.parse(r.body).organization.name).sort()).toEqual([...names].sort());
    expect(new Set(delivered.map((r) => r.headers["x-switchboard-delivery"])).size).toBe(12);
    // The hanging endpoint was really sent to (isolation is shown, not assumed), holds its own send
    // slots (8) and nothing more, and has not answered once.
    await eventually(() => hanging.requests.length > 0, 10_000, "a request to the hanging endpoint");
    expect(hanging.requests.length).toBeLessThanOrEqual(8);
    const health = (await api.call("GET", `/api/v1/webhooks/${ids[0]}`)).body.health;
    expect(health).toMatchObject({ last_status: 200, disabled: false });
  } finally {
    release();
    await api.server.close();
    await hanging.stop();
    await healthy.stop();
  }
}, 60_000);
