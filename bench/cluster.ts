/**
 * bench/cluster: Switchboard as 1, 2 and 3 real node processes (`serve`, each with --database-url,
 * --node-id, its own port and data directory, one shared --secret-key-file) on a throwaway PostgreSQL
 * server, against one node on SQLite (the default appliance) in the same run. Per setup:
 *   1. ingest: Segment /v1/identify (a new person each) for INGEST_SECONDS at CONCURRENCY, spread
 *      round-robin over the nodes; no trigger matches these people, so nothing is delivered
 *   2. fan-out: BURST_EVENTS identifies (same spread), each fanned out by a trigger to WEBHOOKS webhooks
 *      at a receiver in this process. The receiver answers 410 meanwhile, so the engine disables the
 *      webhooks and the jobs wait; then the webhooks are enabled through every node (each call wakes
 *      its node) and the backlog drains: deliveries/s is the drain's, so the delivery path is measured
 *      apart from the identifies that queue it. Over the drain: the node processes' CPU (utime + stime
 *      from /proc) and PostgreSQL's (postmaster and backends) per delivery, statements per delivery from
 *      pg_stat_statements (preloaded on the throwaway server; BEGIN/COMMIT/SAVEPOINT count, and each is
 *      awaited alone: one statement is one round trip) with the busiest listed, and transactions per
 *      delivery from pg_stat_database (autocommitted single statements count as one each)
 *   3. latency: a steady LATENCY_RATE identifies/s for LATENCY_SECONDS, sent in turn to each node (open
 *      loop), each delivered to one webhook by whichever node claims it: identify sent → delivery
 *      received, p50/p99
 * The triggers are set up before the other nodes start and select their people by email prefix, so
 * every node fans out the same way. The load generator and receiver run in this process, on the same
 * cores as the nodes and PostgreSQL.
 * Due jobs no node claims for 5 s during a drain count as a stall (the nodes are woken again);
 * SHOW_STALLS=1 prints where the jobs were.
 * Run: npx bun bench/cluster.ts   (about 4 minutes on an idle 2-core box; NODES=1,2,3 SQLITE=0|1
 * BURST_EVENTS WEBHOOKS INGEST_SECONDS LATENCY_SECONDS LATENCY_RATE CONCURRENCY TOP_STATEMENTS
 * DRAIN_TIMEOUT_S)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { type PostgresServer, startPostgres } from "../test/support/postgres";
import { fmt, load, percentiles } from "./support/load";
import { credentials, spawnServe } from "./support/switchboard";

const NODES = (process.env.NODES ?? "1,2,3").split(",").map(Number);
/** SQLITE=0 leaves the single-node SQLite baseline out (profiling PostgreSQL alone). */
const SQLITE = process.env.SQLITE !== "0";
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const INGEST_SECONDS = Number(process.env.INGEST_SECONDS ?? 5);
const BURST_EVENTS = Number(process.env.BURST_EVENTS ?? 500);
const WEBHOOKS = Number(process.env.WEBHOOKS ?? 10);
const LATENCY_RATE = Number(process.env.LATENCY_RATE ?? 200);
const LATENCY_SECONDS = Number(process.env.LATENCY_SECONDS ?? 4);
const TOP_STATEMENTS = Number(process.env.TOP_STATEMENTS ?? 10);
const STALL_MS = 5000;
const DRAIN_TIMEOUT_MS = Number(process.env.DRAIN_TIMEOUT_S ?? 150) * 1000;

// The receiver. Fan-out deliveries: refused with 410 while the backlog is queued (the engine disables
// the webhooks and holds their jobs), then counted once per delivery id. Latency deliveries: timed
// against when their identify was sent.
let refusing = false;
let refused = 0;
const delivered = new Set<string>();
const sentAt = new Map<string, number>();
const latencies: number[] = [];
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const body = await req.text();
    if (new URL(req.url).pathname === "/latency") {
      const email = /"email":"([^"]+)"/.exec(body)?.[1];
      const at = email ? sentAt.get(email) : undefined;
      if (at !== undefined) {
        latencies.push(performance.now() - at);
        sentAt.delete(email!); // a redelivery is not timed twice
      }
    } else if (refusing) {
      refused++;
      return new Response("gone", { status: 410 });
    } else delivered.add(req.headers.get("webhook-id")!);
    return new Response("ok");
  },
});
const receiverUrl = `http://127.0.0.1:${receiver.port}`;

/** utime + stime (and, with `children`, those of reaped children) of a process, in ms; 0 once it is gone. */
function cpuMs(pid: number, children = false): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
    return (ticks * 1000) / 100;
  } catch {
    return 0;
  }
}

/** PostgreSQL's CPU: the postmaster with its reaped children, plus its live backends. */
function postgresCpuMs(postmaster: number): number {
  let total = cpuMs(postmaster, true);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      if (ppid === postmaster) total += cpuMs(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

type Node = { url: string; proc: ReturnType<typeof Bun.spawn>; dataDir: string };
type Setup = { name: string; nodes: Node[]; database?: { url: string; name: string }; logIssues: Map<string, number> };

/** Warnings and errors the nodes logged, by message (the 410s' "destination disabled" are the bench's own). */
function noteIssues(issues: Map<string, number>) {
  return (line: string) => {
    if (!/"level":"(warn|error)"/.test(line) || line.includes("delivery destination disabled")) return;
    const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 120);
    issues.set(msg, (issues.get(msg) ?? 0) + 1);
  };
}

/** The setup's nodes, the first one set up (admin, token, write key, webhooks, triggers) before the others start. */
async function startSetup(name: string, count: number, databaseUrl?: string): Promise<Setup & Credentials> {
  const keyFile = join(mkdtempSync(join(tmpdir(), "switchboard-bench-key-")), "secret.key");
  const nodes: Node[] = [];
  const logIssues = new Map<string, number>();
  const startNode = async (i: number) => {
    const dataDir = mkdtempSync(join(tmpdir(), "switchboard-bench-node-"));
    const cluster = databaseUrl
      ? ["--database-url", databaseUrl, "--node-id", `node-${i + 1}`, "--secret-key-file", keyFile]
      : [];
    nodes.push({ ...(await spawnServe(["--data-dir", dataDir, ...cluster], noteIssues(logIssues))), dataDir });
  };
  await startNode(0);
  const creds = await setUpFirst(nodes[0]!.url);
  for (let i = 1; i < count; i++) await startNode(i);
  rmSync(join(keyFile, ".."), { recursive: true, force: true });
  const database = databaseUrl ? { url: databaseUrl, name: new URL(databaseUrl).pathname.slice(1) } : undefined;
  return { name, nodes, database, logIssues, ...creds };
}

async function stopSetup(setup: Setup): Promise<void> {
  await Promise.all(
    setup.nodes.map(async (n) => {
      n.proc.kill("SIGTERM");
      await n.proc.exited;
      rmSync(n.dataDir, { recursive: true, force: true });
    }),
  );
}

/**
 * Counts the jobs leased now (sent or about to be, not yet recorded), straight from the setup's
 * database; `states()` says where the jobs are (printed when a drain does not end).
 */
async function leasedJobs(setup: Setup) {
  const query = "SELECT COUNT(*) AS n FROM delivery_jobs WHERE status = 'running'";
  const statesQuery = `SELECT status, blocked, COUNT(*) AS n, MAX(attempts) AS attempts, MAX(run_at) AS run_at,
    MAX(lease_owner) AS owner, MAX(last_error) AS error FROM delivery_jobs GROUP BY status, blocked
    UNION ALL SELECT 'destinations', disabled_at IS NOT NULL OR paused_at IS NOT NULL, COUNT(*), NULL, NULL, NULL, NULL
    FROM delivery_destinations GROUP BY 2`;
  if (setup.database) {
    const sql = new SQL(setup.database.url, { max: 1 });
    const count = async () => Number((await sql.unsafe(query))[0].n);
    const states = async () => JSON.stringify(await sql.unsafe(statesQuery));
    return Object.assign(count, { states, close: () => sql.close() });
  }
  const sqlite = new Database(join(setup.nodes[0]!.dataDir, "switchboard.db"), { readonly: true });
  const count = async () => sqlite.query<{ n: number }, []>(query).get()!.n;
  const states = async () => JSON.stringify(sqlite.query(statesQuery).all());
  return Object.assign(count, { states, close: async () => sqlite.close() });
}

type Credentials = { token: string; writeKey: string; burstHooks: number[] };

/**
 * Enables the fan-out webhooks through the first node (which releases their held jobs), then through
 * the others (each call wakes its node's engine). Not at once: each enable's release locks the
 * webhook's held jobs, and a claim that skips locked jobs (SKIP LOCKED) may take the webhook for empty.
 */
async function enableAll(setup: Setup & Credentials): Promise<void> {
  const enable = (node: Node) =>
    Promise.all(
      setup.burstHooks.map(async (id) => {
        const res = await fetch(`${node.url}/api/v1/webhooks/${id}/enable`, {
          method: "POST",
          headers: { authorization: `Bearer ${setup.token}` },
        });
        if (!res.ok) throw new Error(`enabling webhook ${id}: ${res.status} ${await res.text()}`);
      }),
    );
  await enable(setup.nodes[0]!);
  await Promise.all(setup.nodes.slice(1).map(enable));
}

async function setUpFirst(url: string): Promise<Credentials> {
  const creds = await credentials(url);
  const api = async (path: string, body: unknown) => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${creds.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: number };
  };
  const burstHooks: number[] = [];
  for (let i = 0; i < WEBHOOKS; i++)
    burstHooks.push((await api("/webhooks", { name: `burst ${i}`, url: `${receiverUrl}/burst/${i}` })).id);
  const latencyHook = (await api("/webhooks", { name: "latency", url: `${receiverUrl}/latency` })).id;
  const trigger = (name: string, prefix: string, ids: number[]) =>
    api("/triggers", {
      name,
      events: ["user.created"],
      conditions: [{ field: "user.email", operator: "starts_with", value: prefix }],
      webhook_ids: ids,
    });
  await trigger("burst", "burst-", burstHooks);
  await trigger("latency", "latency-", [latencyHook]);
  return { ...creds, burstHooks };
}

const identifyBody = (kind: string, i: number) =>
  JSON.stringify({
    userId: `${kind}-${i}`,
    messageId: `${kind}-m-${i}`,
    traits: { email: `${kind}-${i}@bench.example`, firstName: "Bench", lastName: `Person ${i}`, plan: "pro" },
  });

function identifier(setup: Setup & Credentials) {
  const auth = `Basic ${Buffer.from(`${setup.writeKey}:`).toString("base64")}`;
  return (i: number, body: string) =>
    fetch(`${setup.nodes[i % setup.nodes.length]!.url}/v1/identify`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: auth },
      body,
    });
}

async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(5);
  }
  return true;
}

type Statements = { available: boolean; total: number; commits: number; top: { calls: number; query: string }[] };

/** What the server ran for one database since the last reset (statements need pg_stat_statements). */
class StatementCounter {
  private readonly admin: SQL;
  constructor(
    server: PostgresServer,
    readonly available: boolean,
  ) {
    this.admin = new SQL(server.url(), { max: 1 });
  }

  async init(): Promise<void> {
    if (this.available) await this.admin`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
  }

  private commitsBefore = 0;
  async reset(database: string): Promise<void> {
    if (this.available) await this.admin`SELECT pg_stat_statements_reset()`;
    this.commitsBefore = await this.commits(database);
  }

  private async commits(database: string): Promise<number> {
    const [row] = await this.admin`SELECT xact_commit::float8 AS n FROM pg_stat_database WHERE datname = ${database}`;
    return row.n as number;
  }

  async read(database: string): Promise<Statements> {
    await Bun.sleep(1500); // an idle backend reports its transaction counts within a second (PostgreSQL 15)
    const commits = (await this.commits(database)) - this.commitsBefore;
    if (!this.available) return { available: false, total: 0, commits, top: [] };
    const rows = (await this.admin`
      SELECT s.calls::float8 AS calls, s.query FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      WHERE d.datname = ${database} ORDER BY s.calls DESC`) as { calls: number; query: string }[];
    return {
      available: true,
      total: rows.reduce((a, r) => a + r.calls, 0),
      commits,
      top: rows.slice(0, TOP_STATEMENTS),
    };
  }

  close(): Promise<void> {
    return this.admin.close();
  }
}

type Figures = {
  name: string;
  nodes: number;
  ingest: { rps: number; p99: number; errors: number };
  burst: {
    deliveries: number;
    expected: number;
    seconds: number;
    rate: number;
    errors: number;
    queueRate: number;
    stalls: number;
  };
  cpuPerDelivery: number;
  pgCpuPerDelivery: number | null;
  statements: Statements | null;
  latency: { p50: number; p99: number; count: number; expected: number };
  logIssues: Map<string, number>;
};

async function measure(setup: Setup & Credentials, pg: { server: PostgresServer; counter: StatementCounter } | null) {
  const identify = identifier(setup);
  const n = setup.nodes.length;
  const say = (what: string) => console.error(`${setup.name}: ${what}`);
  say("ingest");

  // 1. Ingest only: no trigger matches these people.
  const ingest = await load({
    concurrency: CONCURRENCY,
    seconds: INGEST_SECONDS,
    request: (i) => identify(i, identifyBody(`ingest-${setup.name}`, i)),
  });

  // 2. Fan-out: BURST_EVENTS identifies queue WEBHOOKS deliveries each, held (the receiver refuses, so the
  // engine disables the webhooks); then the webhooks are enabled on every node and the backlog drains.
  say(`ingest ${fmt(ingest.rps, 0)} req/s; queuing the fan-out backlog`);
  refusing = true;
  delivered.clear();
  const queueStarted = performance.now();
  let next = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < BURST_EVENTS) {
        const i = next++;
        const res = await identify(i, identifyBody(`burst-${setup.name}`, i)).catch(() => null);
        if (!res?.ok) errors++;
        await res?.arrayBuffer();
      }
    }),
  );
  const queueRate = (BURST_EVENTS - errors) / ((performance.now() - queueStarted) / 1000);
  // Refusals already answered are recorded (disabling their webhook) a tick later: none may land after
  // the webhooks are enabled, so no job may be on the wire or waiting to be recorded then.
  refusing = false;
  await Bun.sleep(500);
  const leased = await leasedJobs(setup);
  while ((await leased()) > 0) await Bun.sleep(100);
  say(`queued at ${fmt(queueRate, 0)} identifies/s (${refused} refused sends); draining`);
  if (pg && setup.database) await pg.counter.reset(setup.database.name);
  const nodeCpu0 = setup.nodes.reduce((a, node) => a + cpuMs(node.proc.pid), 0);
  const pgCpu0 = pg ? postgresCpuMs(pg.server.pid) : 0;
  const before = delivered.size;
  const expected = (BURST_EVENTS - errors) * WEBHOOKS - before;
  const started = performance.now();
  await enableAll(setup);
  // Due jobs no node claims for STALL_MS: every node is woken again (and the stall counted).
  let stalls = 0;
  let seen = delivered.size;
  let stalledSince = performance.now();
  const drained = await until(() => {
    if (delivered.size !== seen) [seen, stalledSince] = [delivered.size, performance.now()];
    else if (performance.now() - stalledSince > STALL_MS) {
      stalls++;
      stalledSince = performance.now();
      if (process.env.SHOW_STALLS) void leased.states().then((jobs) => say(`stalled at ${Date.now()}: ${jobs}`));
      void enableAll(setup);
    }
    return delivered.size - before >= expected;
  }, DRAIN_TIMEOUT_MS);
  if (stalls) say(`the drain stalled ${stalls}× (due jobs unclaimed for ${STALL_MS / 1000} s): nodes woken again`);
  const seconds = (performance.now() - started) / 1000;
  const deliveries = delivered.size - before;
  const nodeCpu = setup.nodes.reduce((a, node) => a + cpuMs(node.proc.pid), 0) - nodeCpu0;
  const pgCpu = pg ? postgresCpuMs(pg.server.pid) - pgCpu0 : null;
  const statements = pg && setup.database ? await pg.counter.read(setup.database.name) : null;
  if (!drained)
    say(
      `only ${deliveries} of ${expected} deliveries within ${DRAIN_TIMEOUT_MS / 1000} s (now ${Date.now()}); ` +
        `jobs: ${await leased.states()}`,
    );
  await leased.close();

  // 3. Latency at a steady rate, sent in turn to each node.
  say(`${deliveries} deliveries in ${fmt(seconds)} s; latency at ${LATENCY_RATE} events/s`);
  await Bun.sleep(500);
  latencies.length = 0;
  sentAt.clear();
  const total = Math.round(LATENCY_RATE * LATENCY_SECONDS);
  const t0 = performance.now();
  const sending: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / LATENCY_RATE;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const body = identifyBody(`latency-${setup.name}`, i);
    sentAt.set(`latency-${setup.name}-${i}@bench.example`, performance.now());
    sending.push(
      identify(i, body).then(
        (r) => r.arrayBuffer(),
        () => undefined,
      ),
    );
  }
  await Promise.all(sending);
  await until(() => latencies.length >= total, 30_000);
  const lat = percentiles(latencies);

  return {
    name: setup.name,
    nodes: n,
    ingest: { rps: ingest.rps, p99: ingest.p99, errors: ingest.errors },
    burst: { deliveries, expected, seconds, rate: deliveries / seconds, errors, queueRate, stalls },
    cpuPerDelivery: nodeCpu / Math.max(1, deliveries),
    pgCpuPerDelivery: pgCpu === null ? null : pgCpu / Math.max(1, deliveries),
    statements,
    latency: { p50: lat.p50, p99: lat.p99, count: latencies.length, expected: total },
    logIssues: setup.logIssues,
  } satisfies Figures;
}

/** Starts PostgreSQL with pg_stat_statements preloaded, or without when this installation lacks it. */
async function startServer(): Promise<{ server: PostgresServer; counter: StatementCounter }> {
  let server: PostgresServer;
  let available = true;
  try {
    server = await startPostgres({
      settings: { shared_preload_libraries: "pg_stat_statements" },
    });
  } catch {
    available = false;
    server = await startPostgres();
  }
  const counter = new StatementCounter(server, available);
  await counter.init();
  return { server, counter };
}

const header = [
  "setup",
  "ingest req/s",
  "ingest p99",
  "fan-out ingest/s",
  "deliveries/s",
  "node CPU/deliv",
  "pg CPU/deliv",
  "stmts/deliv",
  "xacts/deliv",
  "latency p50",
  "latency p99",
];
const row = (f: Figures) => [
  f.name === "sqlite" ? "1 node, SQLite" : `${f.nodes} node${f.nodes > 1 ? "s" : ""}, PostgreSQL`,
  fmt(f.ingest.rps, 0),
  `${fmt(f.ingest.p99)} ms`,
  fmt(f.burst.queueRate, 0),
  `${fmt(f.burst.rate, 0)}${f.burst.deliveries < f.burst.expected ? ` (${f.burst.deliveries}/${f.burst.expected})` : ""}` +
    (f.burst.stalls ? ` (${f.burst.stalls} stalls)` : ""),
  `${fmt(f.cpuPerDelivery, 3)} ms`,
  f.pgCpuPerDelivery === null ? "-" : `${fmt(f.pgCpuPerDelivery, 3)} ms`,
  f.statements?.available ? fmt(f.statements.total / f.burst.deliveries, 2) : "-",
  f.statements ? fmt(f.statements.commits / f.burst.deliveries, 3) : "-",
  `${fmt(f.latency.p50)} ms`,
  `${fmt(f.latency.p99)} ms${f.latency.count < f.latency.expected ? ` (${f.latency.count}/${f.latency.expected})` : ""}`,
];

/** One setup's figures as soon as they are measured (a long run shows its progress). */
function report(f: Figures): void {
  console.log(`\n${row(f).join(" | ")}`);
  for (const [msg, n] of f.logIssues) console.log(`  nodes logged ${n}× "${msg}"`);
  if (!f.statements?.top.length) return;
  console.log(`  busiest statements of the drain (calls per delivery, query):`);
  for (const st of f.statements.top)
    console.log(
      `  ${fmt(st.calls / f.burst.deliveries, 3).padStart(7)}  ${st.query.replace(/\s+/g, " ").slice(0, 110)}`,
    );
}

const runStarted = performance.now();
const results: Figures[] = [];
if (SQLITE) {
  const sqlite = await startSetup("sqlite", 1);
  try {
    results.push(await measure(sqlite, null));
    report(results.at(-1)!);
  } finally {
    await stopSetup(sqlite);
  }
}
const pg = await startServer();
try {
  for (const count of NODES) {
    const setup = await startSetup(`pg${count}`, count, await pg.server.createDatabase());
    try {
      results.push(await measure(setup, pg));
      report(results.at(-1)!);
    } finally {
      await stopSetup(setup);
    }
  }
} finally {
  await pg.counter.close();
  await pg.server.stop();
  receiver.stop(true);
}

const cores = availableParallelism();
console.log(
  `\n${cores} cores shared by the nodes, PostgreSQL (fsync off) and this load generator + receiver (load average ` +
    `${loadavg()
      .map((l) => fmt(l))
      .join(" ")} at the end); concurrency ${CONCURRENCY}; fan-out: ${BURST_EVENTS} events × ${WEBHOOKS} ` +
    `webhooks queued, then drained; latency at ${LATENCY_RATE} events/s for ${LATENCY_SECONDS} s; ` +
    `run took ${fmt((performance.now() - runStarted) / 1000, 0)} s`,
);
console.log(
  `statements per delivery: ${
    pg.counter.available
      ? "pg_stat_statements calls (BEGIN/COMMIT/SAVEPOINT included; each is awaited alone: one round trip)"
      : "pg_stat_statements unavailable here: only transactions (pg_stat_database xact_commit) are counted"
  }; CPU, statements and commits cover the drain only (the deliveries, not the identifies queuing them)`,
);
const table = [header, ...results.map(row)];
const widths = header.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
for (const r of table) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
console.log(
  `On ${cores} cores every node competes with PostgreSQL and the load generator for the same CPU: more nodes ` +
    "add processes, not cores, so the 2- and 3-node figures show the cost of coordination (claims, leases, " +
    "round trips), not the speed-up a box with a core per node would give. Per core and second, a node " +
    "delivers about 1000 / (node CPU per delivery) and PostgreSQL serves 1000 / (pg CPU per delivery).",
);

const sqliteFig = results.find((f) => f.name === "sqlite");
const pgBy = new Map(results.filter((f) => f.name !== "sqlite").map((f) => [f.nodes, f]));
const vsSqlite = (a: number, b: number | undefined) => (b ? fmt(a / b, 2) : "1.00");
if (sqliteFig) {
  console.log(`RESULT cluster_sqlite_deliveries ${fmt(sqliteFig.burst.rate, 0)} deliveries/s ratio=1.00`);
  console.log(`RESULT cluster_sqlite_ingest ${fmt(sqliteFig.ingest.rps, 0)} req/s ratio=1.00`);
}
for (const f of pgBy.values()) {
  const on = `${f.nodes}node`;
  console.log(
    `RESULT cluster_deliveries_${on} ${fmt(f.burst.rate, 0)} deliveries/s ratio=${vsSqlite(f.burst.rate, sqliteFig?.burst.rate)}`,
  );
  console.log(
    `RESULT cluster_ingest_${on} ${fmt(f.ingest.rps, 0)} req/s ratio=${vsSqlite(f.ingest.rps, sqliteFig?.ingest.rps)}`,
  );
  console.log(
    `RESULT cluster_latency_p99_${on} ${fmt(f.latency.p99)} ms ratio=${vsSqlite(f.latency.p99, sqliteFig?.latency.p99)}`,
  );
  console.log(
    `RESULT cluster_cpu_per_delivery_${on} ${fmt(f.cpuPerDelivery, 3)} ms ` +
      `ratio=${vsSqlite(f.cpuPerDelivery, sqliteFig?.cpuPerDelivery)}`,
  );
  if (f.statements?.available)
    console.log(
      `RESULT cluster_statements_per_delivery_${on} ${fmt(f.statements.total / f.burst.deliveries, 2)} statements ratio=1.00`,
    );
}
const one = pgBy.get(1);
const two = pgBy.get(2);
if (two && one)
  console.log(`RESULT cluster ${fmt(two.burst.rate, 0)} deliveries/s ratio=${fmt(two.burst.rate / one.burst.rate, 2)}`);
const incomplete = results.some((f) => f.burst.deliveries < f.burst.expected || f.ingest.errors || f.burst.errors);
if (incomplete) process.exitCode = 1;
