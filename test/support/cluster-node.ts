/**
 * A real Switchboard node for the cluster tests: the server exactly as `serve` starts it on a shared
 * data directory under its own --node-id, plus one fast schedule ("tick") run through the same
 * cluster claims as every schedule, logging each run it makes. Usage:
 *   bun test/support/cluster-node.ts <dataDir> <nodeId> <cron pattern> <run ms>
 */
import { loadConfig } from "../../src/config";
import { startSchedules } from "../../src/jobs";
import { createLogger } from "../../src/log";
import { startServer } from "../../src/server";

const [dataDir, nodeId, pattern, runMs] = process.argv.slice(2);
if (!dataDir || !nodeId || !pattern || runMs === undefined)
  throw new Error("usage: cluster-node.ts <dataDir> <nodeId> <cron pattern> <run ms>");

const config = loadConfig({ host: "127.0.0.1", port: "0", dataDir, nodeId, logLevel: "info" }, {});
const log = createLogger("info");
const server = await startServer(config, log);
const tick = {
  name: "tick",
  pattern,
  run: async () => {
    const started = Date.now();
    await Bun.sleep(Number(runMs));
    log.info("tick ran", { node: nodeId, started, ended: Date.now() });
  },
};
const schedules = startSchedules(log, [tick], server.claims);
const stop = () => {
  schedules.stop();
  void server.stop().then(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
