/**
 * A real Switchboard server process for the crash test: starts on a data dir, registers a handler
 * posting to a receiver, enqueues a burst of jobs, and prints "ready". Usage:
 *   bun test/support/delivery-worker.ts <dataDir> <receiverUrl> <jobsToEnqueue>
 */
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/log";
import { startServer } from "../../src/server";

const [dataDir, receiverUrl, count] = process.argv.slice(2);
if (!dataDir || !receiverUrl || count === undefined)
  throw new Error("usage: delivery-worker.ts <dataDir> <receiverUrl> <jobsToEnqueue>");

const config = loadConfig({ host: "127.0.0.1", port: "0", dataDir, logLevel: "warn" }, {});
const server = await startServer(
  config,
  createLogger("warn", (line) => process.stderr.write(line)),
);
const { db, delivery } = server.ctx;
delivery.register("crash-test", {
  facility: "webhook",
  prepare: async (job) => ({
    url: `${receiverUrl}/${job.id}`,
    headers: { "content-type": "application/json", "x-delivery-id": job.deliveryId },
    body: JSON.stringify(job.payload),
  }),
  retrySchedule: { baseMs: 50, factor: 2, maxMs: 500, jitter: 0.2 },
});
// The whole burst is durable before the first send (one transaction), so a kill mid-burst finds every job stored.
await db.transaction(async (tx) => {
  for (let i = 0; i < Number(count); i++)
    await delivery.enqueue(tx, { kind: "crash-test", destination: "receiver", payload: { i } });
});
process.stdout.write("ready\n");
process.on("SIGTERM", () => void server.stop().then(() => process.exit(0)));
