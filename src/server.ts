import { migrateDatabase, quickCheck, readSchemaVersion, storeLocation } from "./db/maintenance";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { checkSecretKey, databaseHasKey, missingKeyFile } from "./cluster/key-check";
import { claimNodeId, NodeHeartbeat } from "./cluster/nodes";
import { ScheduleClaims } from "./cluster/schedules";
import type { Config } from "./config";
import { createApp, isApiPath } from "./app";
import { hopOf, HOP_HEADER, MAX_HOPS, withHop } from "./delivery/hops";
import { openDatabase, type Db } from "./db/client";
import { GroupCommit, groupCommitted, registerGroupCommitMetrics } from "./db/group-commit";
import { markCleanStop, takeCleanStop } from "./db/clean-stop";
import { DatabaseHealth } from "./db/health";
import { lockDataDir } from "./db/lock";
import { DeliveryEngine, type EngineOptions } from "./delivery/engine";
import { registerDeliveryGauges } from "./delivery/metrics";
import { EventFeed } from "./events/feed";
import { admitBody } from "./http/body-gate";
import { clientAddress, trustedProxies } from "./http/client-address";
import { requestMeta, type AppContext } from "./http/context";
import { LoginThrottle } from "./http/login-throttle";
import { Metrics } from "./metrics";
import { registerHealthMetrics } from "./http/ops";
import { jsonError } from "./http/responses";
import { coreSchedules, startSchedules } from "./jobs";
import { buildFeatures, type Features } from "./features";
import { PersonFields } from "./domain/person-fields";
import { createLogger, type Logger } from "./log";
import { createSecretBox, loadOrCreateKey } from "./secrets";
import { naming, RESTORE_HINT, StartupError } from "./startup-error";

export const dataPaths = (dataDir: string) => ({
  db: join(dataDir, "switchboard.db"),
  key: join(dataDir, "secret.key"),
  lock: join(dataDir, "switchboard.lock"),
  /** Left by a clean stop (db/clean-stop.ts). */
  cleanStop: join(dataDir, "switchboard.clean-stop"),
});

/**
 * The data directory is one process's, unless processes name themselves: nodes with their own
 * --node-id may share it (and its SQLite file) as a small cluster would share a PostgreSQL server.
 */
const lockPath = (config: Config) =>
  config.nodeId ? join(config.dataDir, `switchboard.${config.nodeId}.lock`) : dataPaths(config.dataDir).lock;

/**
 * The key sealing stored secrets: the one the database was set up with. A missing key file is
 * created only for a database that has never known one; a different key is refused (key-check.ts).
 */
async function openSecretKey(db: Db, config: Config, log: Logger): Promise<Uint8Array<ArrayBuffer>> {
  const keyFile = config.secretKeyFile || dataPaths(config.dataDir).key;
  if (!existsSync(keyFile) && (await databaseHasKey(db))) throw missingKeyFile(keyFile);
  const key = naming(keyFile, () => loadOrCreateKey(keyFile, (message) => log.warn(message)));
  await checkSecretKey(db, key, keyFile);
  return key;
}

/**
 * A key file without its database means the database was lost (deleted, or truncated by a failed
 * copy): starting afresh would open /setup to anyone on an appliance that was set up. Refused.
 */
function assertDatabaseNotLost(dataDir: string): void {
  const { db, key } = dataPaths(dataDir);
  if (!existsSync(key)) return;
  const state = !existsSync(db) ? "is missing" : statSync(db).size === 0 ? "is empty" : null;
  if (state)
    throw new Error(
      `database ${db} ${state} but ${key} exists: restore the database from a backup ` +
        "(or move secret.key away to set up a new appliance)",
    );
}

/**
 * Opens (creating if needed), checks and migrates the database of a data directory. Every page is
 * checked unless the caller knows the file is unchanged since a clean stop (`pages: "unchanged"`).
 */
export function openDataDir(dataDir: string, pages: PageCheck = "check", log?: Logger): Db {
  naming(dataDir, () => mkdirSync(dataDir, { recursive: true, mode: 0o700 }));
  // Before opening: opening creates the file, which would hide that it was lost.
  assertDatabaseNotLost(dataDir);
  const path = dataPaths(dataDir).db;
  const db = naming(path, () => openDatabase(path, log));
  try {
    refuseDamaged(db, path, pages);
    naming(path, () => migrateDatabase(db));
  } catch (err) {
    void db.close();
    throw err;
  }
  return db;
}

/** The store the configuration names: PostgreSQL at --database-url, else SQLite in the data directory. */
export async function openStore(
  config: Pick<Config, "dataDir" | "databaseUrl">,
  pages: PageCheck = "check",
  log?: Logger,
): Promise<Db> {
  if (!config.databaseUrl) return openDataDir(config.dataDir, pages, log);
  // Loaded only here: an appliance on SQLite never evaluates the PostgreSQL driver.
  const { describePostgres, openPostgresStore } = await import("./db/pg-store");
  const where = storeLocation(describePostgres(config.databaseUrl));
  try {
    return await openPostgresStore(config.databaseUrl);
  } catch (err) {
    // postgres.js errors name no server, and a URL may hold a password: say where, without it.
    if (err instanceof StartupError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new StartupError(`PostgreSQL database ${where}: ${message}`, { cause: err });
  }
}

type PageCheck = "check" | "unchanged";

/**
 * A damaged database is refused before anything reads or writes it: quick_check reads every page
 * (skips index contents); a file unchanged since a clean stop only has its header and schema read.
 */
function refuseDamaged(db: Db, path: string, pages: PageCheck): void {
  let problem: string;
  try {
    // Reading the schema cookie reads the header and the first page: a file that is no database fails here.
    if (pages === "unchanged" && readSchemaVersion(db) >= 0) return;
    const rows = quickCheck(db);
    if (rows[0] === "ok") return;
    problem = rows.join(" ");
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  throw new StartupError(
    `database is damaged: ${path} (${problem.replace(/\s+/g, " ").slice(0, 200)}); ${RESTORE_HINT}`,
  );
}

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "same-origin",
  "Content-Security-Policy":
    "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; " +
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
};
const DELIVERY_STOP_DEADLINE_MS = 5_000;
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** The route table (method and path pattern of every route), for tests that exercise them all. */
export type RunningServer = {
  url: string;
  port: number;
  ctx: AppContext;
  features: Features;
  schedules: ReturnType<typeof startSchedules>;
  /** This node's schedule claims and heartbeat (cluster/). */
  claims: ScheduleClaims;
  heartbeat: NodeHeartbeat;
  routes: { method: string; path: string }[];
  stop(): Promise<void>;
};

/**
 * Starts Switchboard on a data directory: lock, key file, database, migrations, HTTP server and
 * schedules. stop() drains in-flight requests, then closes the database and releases the lock.
 */
export async function startServer(
  config: Config,
  log: Logger = createLogger(config.logLevel),
  /** The delivery engine's timings and limits where the defaults do not suit (the cluster tests' short leases). */
  engine: Partial<Omit<EngineOptions, "nodeId">> = {},
): Promise<RunningServer> {
  naming(config.dataDir, () => mkdirSync(config.dataDir, { recursive: true, mode: 0o700 }));
  const lock = naming(lockPath(config), () => lockDataDir(lockPath(config)));
  let db: Db | undefined;
  const paths = dataPaths(config.dataDir);
  const onSqlite = !config.databaseUrl;
  /** Closes the store; a SQLite file closed here is marked clean, for the next start. */
  const closeDb = async () => {
    await db?.close();
    if (db && onSqlite) naming(paths.cleanStop, () => markCleanStop(paths.db, paths.cleanStop));
  };
  try {
    // Taken now, so a crash from here on leaves no mark and the next start checks every page.
    const pages = onSqlite && naming(paths.db, () => takeCleanStop(paths.db, paths.cleanStop)) ? "unchanged" : "check";
    // The database first: a key file beside a missing database is an error, not a first start.
    db = await openStore(config, pages, log);
    const secrets = await createSecretBox(await openSecretKey(db, config, log));
    // Stable across restarts of the same installation: a restarted node takes back its own leases at once.
    const nodeId = config.nodeId || `${hostname()}:${resolve(config.dataDir)}`;
    const instance = crypto.randomUUID();
    // Before anything acts under the id (the engine takes back its leases). On SQLite the data
    // directory's lock, one per node id, already makes the id one process's.
    if (config.databaseUrl) await claimNodeId(db, nodeId, instance, log);
    const delivery = new DeliveryEngine(db, log, { ...engine, nodeId });
    const health = new DatabaseHealth(db, config.dataDir);
    // Every request's writes share commits (group commit); the delivery engine keeps its own transactions.
    const writes = new GroupCommit(db);
    const shared = groupCommitted(db, writes);
    const ctx: AppContext = {
      config,
      db: shared,
      events: new EventFeed(shared),
      log,
      secrets,
      metrics: new Metrics(),
      delivery,
      loginThrottle: new LoginThrottle(db),
      health,
      personFields: new PersonFields(),
      startedAt: new Date(),
      nodeId,
    };
    registerDeliveryGauges(ctx.metrics, delivery);
    registerHealthMetrics(ctx.metrics, health);
    registerGroupCommitMetrics(ctx.metrics, writes);
    const features = await buildFeatures(ctx);
    const app = createApp(ctx, features);
    const proxies = trustedProxies(config.trustedProxy);
    await delivery.start();
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    const server = naming(`${host}:${config.port}`, () =>
      Bun.serve({
        hostname: config.host,
        port: config.port,
        // The body limit is enforced below, not by Bun: Bun's own refusal is a bare 413 without our error shape.
        maxRequestBodySize: Number.MAX_SAFE_INTEGER,
        async fetch(incoming, srv) {
          const started = performance.now();
          const sentId = incoming.headers.get("x-request-id");
          const meta = {
            id: sentId && REQUEST_ID.test(sentId) ? sentId : crypto.randomUUID(),
            ip: clientAddress(srv.requestIP(incoming)?.address, incoming.headers.get("x-forwarded-for"), proxies),
            route: "",
          };
          const path = new URL(incoming.url).pathname;
          const hop = hopOf(incoming);
          let response: Response;
          if (hop > MAX_HOPS && isApiPath(path)) {
            response = jsonError(
              508,
              "loop_detected",
              `${HOP_HEADER} is ${hop}: this request went through more than ${MAX_HOPS} Switchboard deliveries ` +
                "in a row, which looks like a loop",
            );
          } else {
            const admitted = await admitBody(ctx, incoming);
            if (admitted instanceof Request) {
              requestMeta.set(admitted, meta);
              // The changes this request records queue their deliveries with its hop count.
              response = await withHop(hop, () => app.handle(admitted));
            } else response = admitted;
          }
          response.headers.set("X-Request-Id", meta.id);
          for (const [k, v] of Object.entries(SECURITY_HEADERS))
            if (!response.headers.has(k)) response.headers.set(k, v);
          const seconds = (performance.now() - started) / 1000;
          ctx.metrics.observeRequest(incoming.method, meta.route || "unmatched", response.status, seconds);
          log.info("request", {
            request_id: meta.id,
            method: incoming.method,
            path,
            route: meta.route,
            status: response.status,
            duration_ms: Math.round(seconds * 10000) / 10,
            ip: meta.ip,
          });
          return response;
        },
        error(err) {
          log.error("server error", { error: err.stack ?? err.message });
          return jsonError(500, "internal_error", "something went wrong; the error is in the server log");
        },
      }),
    );
    const url = `http://${host}:${server.port}`;
    // The port is known only now when port 0 picked one; without a base URL the public URL is the listening address.
    ctx.config = { ...config, port: server.port!, publicUrl: config.baseUrl ? config.publicUrl : url };
    ctx.metrics.labelEverySeries("node", ctx.nodeId);
    const allSchedules = [...coreSchedules(ctx), ...features.all.flatMap((f) => f.schedules ?? [])];
    const claims = new ScheduleClaims(db, ctx.nodeId, log);
    const heartbeat = new NodeHeartbeat(
      db,
      ctx.nodeId,
      instance,
      url,
      () => ({ in_flight_deliveries: delivery.sending, running_schedules: claims.runningNames() }),
      log,
      () => claims.takeOver(allSchedules),
    );
    await heartbeat.start();
    const schedules = startSchedules(log, allSchedules, claims);
    log.info("switchboard listening", {
      url,
      node: ctx.nodeId,
      data_dir: config.dataDir,
      database: storeLocation(db.describe),
      ...(onSqlite && { pages_checked: pages === "check" ? "all" : "no: unchanged since a clean stop" }),
      public_url: ctx.config.publicUrl,
    });
    let stopping: Promise<void> | undefined;
    return {
      url,
      port: server.port!,
      ctx,
      features,
      schedules,
      claims,
      heartbeat,
      routes: app.routes.map((r) => ({ method: r.method, path: r.path })),
      stop: () =>
        (stopping ??= (async () => {
          schedules.stop();
          for (const feature of features.all) feature.stop?.();
          // Stop claiming and let sends in flight finish briefly; leased jobs are recovered at next start.
          // A schedule run still going after that keeps its lease, and another node takes it over.
          await Promise.all([
            server.stop(),
            delivery.stop(DELIVERY_STOP_DEADLINE_MS),
            Promise.race([claims.drain(), Bun.sleep(DELIVERY_STOP_DEADLINE_MS)]),
          ]);
          await heartbeat.stop();
          await closeDb();
          lock.release();
          log.info("switchboard stopped");
        })()),
    };
  } catch (err) {
    await closeDb();
    lock.release();
    throw err;
  }
}
