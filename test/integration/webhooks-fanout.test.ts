import { expect, test } from "bun:test";
import { startApi } from "../support/api";
import { eventually, startReceiver } from "../support/receiver";
import { rowsOf } from "../support/store";

test("a change sent to three webhooks stores its payload once; pruning keeps what queued deliveries need", async () => {
  const receiver = startReceiver();
  const api = await startApi();
  try {
    const ids: number[] = [];
    for (const n of [1, 2, 3])
      ids.push(
        (await api.call("POST", "/api/v1/webhooks", { name: `hook ${n}`, url: `${receiver.url}/h/${n}` })).body.id,
      );
    // The third endpoint is held (disabled), so its delivery stays queued.
    const { ctx } = api.server;
    await ctx.delivery.disableDestination(`webhook:${ids[2]}`, "held by the test");
    await api.call("POST", "/api/v1/triggers", { name: "orgs", events: ["organization.created"], webhook_ids: ids });
    await api.call("POST", "/api/v1/organizations", { name: "Fan Out Ltd" });
    await receiver.waitFor(2);
    expect(await rowsOf(ctx.db, "SELECT COUNT(*) AS n FROM webhook_payloads")).toEqual([{ n: 1 }]);
    const [a, b] = receiver.requests;
    expect(a!.body).toBe(b!.body);
    expect(JSON.parse(a!.body).organization.name).toBe("Fan Out Ltd");

    // The delivery detail shows the recorded payload.
    const [delivery] = (await api.call("GET", `/api/v1/webhooks/${ids[0]}/deliveries`)).body.data;
    const detail = await api.call("GET", `/api/v1/webhooks/${ids[0]}/deliveries/${delivery.id}`);
    expect(detail.body.payload.organization.name).toBe("Fan Out Ltd");

    // Long past the retention: the payload stays while the held delivery may still send it.
    const { service } = api.server.features.webhooks;
    const later = Date.now() + 365 * 86_400_000;
    expect(await service.prunePayloads(later)).toBe(0);
    await api.call("POST", `/api/v1/webhooks/${ids[2]}/enable`);
    await receiver.waitFor(3);
    expect(receiver.requests[2]!.body).toBe(a!.body);
    await eventually(
      async () => (await ctx.delivery.countJobs("pending")) + (await ctx.delivery.countJobs("running")) === 0,
      10_000,
      "the third delivery recorded",
    );
    expect(await service.prunePayloads(later)).toBe(1);
  } finally {
    await api.server.close();
    await receiver.stop();
  }
}, 60_000);
