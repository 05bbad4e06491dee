/**
 * bench/csv-import: POST /api/v1/users/import of ROWS new people, then of the same ROWS again with a
 * changed name (updates), against the real server in its own process on SQLite (the baseline, the
 * default appliance) and on a throwaway PostgreSQL server, in the same run: rows per second of each
 * import, and on PostgreSQL the statements per row (pg_stat_statements when the installation has it;
 * each statement is one round trip).
 * Run: npx bun bench/csv-import.ts   (ROWS to change the file size)
 */
import { SQL } from "bun";
import { type PostgresServer, startPostgres } from "../test/support/postgres";
import { fmt } from "./support/load";
import { startSwitchboard } from "./support/switchboard";

const ROWS = Number(process.env.ROWS ?? 5000);

const csvOf = (name: string) =>
  `email,firstname,lastname\n${Array.from({ length: ROWS }, (_, i) => `csv${i}@bench.example,${name},Person ${i}`).join("\n")}\n`;

/** Starts PostgreSQL with pg_stat_statements preloaded, or without when this installation lacks it. */
async function startServer(): Promise<{ server: PostgresServer; counted: boolean }> {
  try {
    return {
      server: await startPostgres({ settings: { shared_preload_libraries: "pg_stat_statements" } }),
      counted: true,
    };
  } catch {
    return { server: await startPostgres(), counted: false };
  }
}

type Run = { create: number; update: number; statementsPerRow?: number };

async function importRate(url: string, token: string, csv: string, expected: Record<string, unknown>) {
  const started = performance.now();
  const res = await fetch(`${url}/api/v1/users/import`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
    body: csv,
  });
  const report = (await res.json()) as Record<string, unknown>;
  const seconds = (performance.now() - started) / 1000;
  for (const [k, v] of Object.entries(expected))
    if (report[k] !== v) throw new Error(`import answered ${res.status} ${JSON.stringify(report).slice(0, 500)}`);
  return ROWS / seconds;
}

async function measure(args: string[], statements?: { admin: SQL; database: string }): Promise<Run> {
  const sb = await startSwitchboard(args);
  try {
    if (statements) await statements.admin`SELECT pg_stat_statements_reset()`;
    const create = await importRate(sb.url, sb.token, csvOf("Bulk"), { committed: true, created: ROWS });
    const update = await importRate(sb.url, sb.token, csvOf("Bulky"), { committed: true, updated: ROWS });
    if (!statements) return { create, update };
    const [row] = await statements.admin`
      SELECT coalesce(sum(s.calls), 0)::float8 AS n FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      WHERE d.datname = ${statements.database}`;
    return { create, update, statementsPerRow: (row.n as number) / (2 * ROWS) };
  } finally {
    await sb.stop();
  }
}

const sqlite = await measure([]);
const { server, counted } = await startServer();
const admin = new SQL(server.url(), { max: 1 });
let postgres: Run;
try {
  if (counted) await admin`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
  const databaseUrl = await server.createDatabase();
  const database = new URL(databaseUrl).pathname.slice(1);
  postgres = await measure(["--database-url", databaseUrl], counted ? { admin, database } : undefined);
} finally {
  await admin.close();
  await server.stop();
}

const line = (name: string, r: Run) =>
  console.log(
    `${name}: ${ROWS} rows, create ${fmt(r.create, 0)} rows/s, update ${fmt(r.update, 0)} rows/s` +
      (r.statementsPerRow === undefined ? "" : `, ${fmt(r.statementsPerRow, 1)} statements/row (all queries)`),
  );
line("sqlite", sqlite);
line("postgres", postgres);
const mean = (r: Run) => 2 / (1 / r.create + 1 / r.update);
console.log(`RESULT csv_import ${fmt(mean(postgres), 0)} rows/s ratio=${fmt(mean(postgres) / mean(sqlite), 2)}`);
console.log(`RESULT csv_import_sqlite ${fmt(mean(sqlite), 0)} rows/s`);
