/**
 * One delivery engine as its own process on a shared SQLite file, for the two-node test: its own store
 * connections, its node id and a short lease. It sends "cluster" jobs to the receiver with its node id
 * and the job's delivery id in headers, and prints "ready" once started. Usage:
 *   bun test/support/engine-node.ts <dataDir> <receiverUrl> <nodeId> <leaseMs>
 */
import { DeliveryEngine } from "../../src/delivery/engine";
import { createLogger } from "../../src/log";
import { openDataDir } from "../../src/server";

const [dataDir, receiverUrl, nodeId, leaseMs] = process.argv.slice(2);
if (!dataDir || !receiverUrl || !nodeId || !leaseMs)
  throw new Error("usage: engine-node.ts <dataDir> <receiverUrl> <nodeId> <leaseMs>");

const db = openDataDir(dataDir);
const engine = new DeliveryEngine(
  db,
  createLogger("warn", (line) => process.stderr.write(line)),
  // Another process enqueues, and its wake-ups do not cross processes: look at the queue often. A
  // destination takes more sends than one node makes (leases count cluster-wide), so both nodes get work.
  { nodeId, leaseMs: Number(leaseMs), idleCheckMs: 100, globalConcurrency: 4, destinationConcurrency: 16 },
);
engine.register("cluster", {
  facility: "webhook",
  prepare: async (job) => ({
    url: `${receiverUrl}/${job.id}`,
    headers: { "content-type": "application/json", "x-delivery-id": job.deliveryId, "x-node": nodeId },
    body: JSON.stringify(job.payload),
  }),
});
await engine.start();
process.stdout.write("ready\n");
process.on("SIGTERM", () => void engine.stop(1_000).then(() => process.exit(0)));
