import { describe, expect, test } from "bun:test";
import { postTo } from "../support/delivery";
import { eventually, startReceiver } from "../support/receiver";
import { startTestServer } from "../support/server";

describe("delivery engine in the server", () => {
  test("runs on the app context, reports queue gauges, and stops with the server", async () => {
    const receiver = startReceiver(() => ({ status: 500 }));
    const server = await startTestServer();
    try {
      const { db, delivery } = server.ctx;
      delivery.register("test", postTo(receiver.url));
      const { id } = await db.transaction(async (tx) =>
        delivery.enqueue(tx, { kind: "test", destination: "d", payload: {} }),
      );
      await eventually(async () => (await delivery.getJob(id))?.failedAttempts === 1);
      const metrics = await (await fetch(server.url + "/metrics")).text();
      expect(metrics).toContain(`switchboard_delivery_jobs_pending{node="${server.ctx.nodeId}"} 1`);
      expect(metrics).toContain(`switchboard_delivery_jobs_running{node="${server.ctx.nodeId}"} 0`);
      expect(metrics).toContain(`switchboard_delivery_jobs_failed{node="${server.ctx.nodeId}"} 0`);
    } finally {
      await server.close();
      await receiver.stop();
    }
  });
});
