import { expect, test } from "bun:test";
import { startApi } from "../support/api";
import { startReceiver } from "../support/receiver";

test("a hanging endpoint and a dead one do not hold back deliveries to a healthy endpoint", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const hanging = startReceiver(async () => (await released, { status: 200 }));
  const healthy = startReceiver();
  const api = await startApi();
  try {
    const ids: number[] = [];
    for (const [name, url] of [["healthy", healthy.url], ["hanging", hanging.url], ["dead", "http://127.0.0.1:9/"]] as const) {
      ids.push((await api.call("POST", "/api/v1/webhooks", { name, url, timeout_seconds: 120 })).body.id);
    }
    await api.call("POST", "/api/v1/triggers", { name: "all", events: ["organization.created"], webhook_ids: ids });
    for (let i = 0; i < 12; i++) await api.call("POST", "/api/v1/organizations", { name: `org ${i}` });
    await healthy.waitFor(12);
    // The hanging endpoint holds its own send slots (8), nothing more; it has not answered once.
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
