/**
 * bench/commit-latency: how long a write transaction (BEGIN IMMEDIATE, an insert, COMMIT) takes as
 * seen from the main thread, p99 over 2 × TXS store transactions of 5 rows of ~2 KB (an index beside),
 * and how late a 1 ms timer fires (p99.9: the event loop stood still). Baseline in the same run: the
 * same store with SQLite's automatic checkpoint (inside COMMIT, on this thread), as it ran before;
 * new: its checkpoints on a worker thread. Interleaved old, new, new, old.
 * Run: npx bun bench/commit-latency.ts   (TXS to change the count)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { openDatabase, sqlRun } from "../src/db/client";

const TXS = Number(process.env.TXS ?? 10_000);
const ROWS = 5;
const SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, b BLOB NOT NULL); CREATE INDEX t_k ON t (k)";

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

/** Runs `tx` TXS times, yielding between: per-transaction ms, and a 1 ms timer's lateness (the loop stood still). */
async function series(tx: (i: number) => Promise<void> | void, into: { times: number[]; lags: number[] }) {
  let last = performance.now();
  const lag = setInterval(() => {
    const now = performance.now();
    into.lags.push(now - last - 1);
    last = now;
  }, 1);
  for (let i = 0; i < TXS; i++) {
    const t0 = performance.now();
    await tx(i);
    into.times.push(performance.now() - t0);
    await new Promise((r) => setImmediate(r));
  }
  clearInterval(lag);
}

/** The store, its checkpoints where told; each transaction inserts ROWS rows of ~2 KB (an index beside). */
async function store(path: string, checkpoints: "worker" | "main", into: { times: number[]; lags: number[] }) {
  const db = openDatabase(path, undefined, checkpoints);
  db.$client.exec(SCHEMA);
  await series(async (i) => {
    await db.transaction(async (tx) => {
      for (let r = 0; r < ROWS; r++) {
        const k = `k${((i * ROWS + r) * 7919) % 100_003}`;
        await sqlRun(tx, sql`INSERT INTO t (k, b) VALUES (${k}, randomblob(2048))`);
      }
    });
  }, into);
  await db.close();
}

const dir = mkdtempSync(join(tmpdir(), "commit-latency-"));
try {
  const before = { times: [] as number[], lags: [] as number[] };
  const after = { times: [] as number[], lags: [] as number[] };
  // Interleaved (old, new, new, old): the neighbours' load drifts.
  await store(join(dir, "old1.db"), "main", before);
  await store(join(dir, "new1.db"), "worker", after);
  await store(join(dir, "new2.db"), "worker", after);
  await store(join(dir, "old2.db"), "main", before);
  const f = (x: number) => x.toFixed(2);
  const figures = (r: typeof before) => ({
    p99: pct(r.times, 0.99),
    p999: pct(r.times, 0.999),
    max: pct(r.times, 1),
    lag: pct(r.lags, 0.999),
  });
  const [o, n] = [figures(before), figures(after)];
  for (const [name, r] of [
    ["main-thread checkpoints (old)", o],
    ["worker checkpoints (new)", n],
  ] as const)
    console.log(
      `${name}: transaction p99 ${f(r.p99)} ms, p99.9 ${f(r.p999)} ms, max ${f(r.max)} ms; event-loop lateness p99.9 ${f(r.lag)} ms`,
    );
  console.log(`RESULT commit_p99 ${f(n.p99)} ms ratio=${(n.p99 / o.p99).toFixed(2)}`);
  console.log(`RESULT event_loop_lag_p999 ${f(n.lag)} ms ratio=${(n.lag / o.lag).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
