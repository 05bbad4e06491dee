/**
 * A real Switchboard node for the cluster tests: the server exactly as `serve` starts it under its own
 * --node-id, on a shared data directory (SQLite) or a PostgreSQL database (--database-url), plus,
 * with --tick, one fast schedule ("tick") run through the same cluster claims as every schedule,
 * logging each run it makes. The delivery engine's lease and idle check can be shortened (a killed
 * node's jobs are taken over after its lease; without cross-node wake-ups a node finds another node's
 * jobs on its idle check). Usage:
 *   bun test/support/cluster-node.ts --data-dir <dir> --node-id <id> [--database-url <url>]
 *     [--secret-key-file <file>] [--tick <cron pattern> --tick-ms <run ms>]
 *     [--lease-ms <ms>] [--idle-check-ms <ms>] [--destination-concurrency <n>] [--global-concurrency <n>]
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../../src/config";
import type { EngineOptions } from "../../src/delivery/engine";
import { startSchedules } from "../../src/jobs";
import { createLogger } from "../../src/log";
import { startServer } from "../../src/server";

const { values: args } = parseArgs({
  options: {
    "data-dir": { type: "string" },
    "node-id": { type: "string" },
    "database-url": { type: "string", default: "" },
    "secret-key-file": { type: "string", default: "" },
    tick: { type: "string" },
    "tick-ms": { type: "string", default: "0" },
    "lease-ms": { type: "string" },
    "idle-check-ms": { type: "string" },
    "destination-concurrency": { type: "string" },
    "global-concurrency": { type: "string" },
  },
});
const dataDir = args["data-dir"];
const nodeId = args["node-id"];
if (!dataDir || !nodeId) throw new Error("usage: cluster-node.ts --data-dir <dir> --node-id <id> [options]");

const config = loadConfig(
  {
    host: "127.0.0.1",
    port: "0",
    dataDir,
    nodeId,
    databaseUrl: args["database-url"],
    secretKeyFile: args["secret-key-file"],
    logLevel: "info",
  },
  {},
);
const engine: Partial<EngineOptions> = {};
if (args["lease-ms"]) engine.leaseMs = Number(args["lease-ms"]);
if (args["idle-check-ms"]) engine.idleCheckMs = Number(args["idle-check-ms"]);
if (args["destination-concurrency"]) engine.destinationConcurrency = Number(args["destination-concurrency"]);
if (args["global-concurrency"]) engine.globalConcurrency = Number(args["global-concurrency"]);
const log = createLogger("info");
const server = await startServer(config, log, engine);
const ticks = args.tick
  ? [
      {
        name: "tick",
        pattern: args.tick,
        run: async () => {
          const started = Date.now();
          await Bun.sleep(Number(args["tick-ms"]));
          log.info("tick ran", { node: nodeId, started, ended: Date.now() });
        },
      },
    ]
  : [];
const schedules = startSchedules(log, ticks, server.claims);
const stop = () => {
  schedules.stop();
  void server.stop().then(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
