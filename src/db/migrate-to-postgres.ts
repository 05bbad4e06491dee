/**
 * `switchboard migrate-to-postgres`: copies a SQLite appliance into an empty PostgreSQL database,
 * the upgrade path to cluster mode. Every table the schema modules declare is copied row by row
 * through its own table object (the same mapping every query uses on both stores), ids kept, in
 * foreign-key order, from one SQLite read transaction (a consistent snapshot) into one PostgreSQL
 * transaction that also creates the schema: either everything arrives, verified, or nothing does.
 * Secrets are copied as stored, sealed with the appliance's key, which every node must then use.
 */
import { Database } from "bun:sqlite";
import { count, getTableColumns, is, sql } from "drizzle-orm";
import { drizzle as sqliteDrizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { drizzle as pgDrizzle } from "drizzle-orm/postgres-js";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Sql, TransactionSql } from "postgres";
import * as crmSyncTables from "../crm-sync/schema";
import * as deliveryTables from "../delivery/schema";
import * as enrichmentTables from "../enrichment/schema";
import * as webhookTables from "../webhooks/schema";
import { openPostgres, type PostgresClient } from "./pg-client";
import { applyPgMigrations, MIGRATION_LOCK } from "./pg-migrate";
import * as coreTables from "./schema";

/** Every SQLite table, from the schema modules drizzle-kit reads (drizzle.config.ts). */
export const SQLITE_TABLES: SQLiteTable[] = [coreTables, deliveryTables, enrichmentTables, crmSyncTables, webhookTables]
  .flatMap((module) => Object.values(module))
  .filter((value): value is SQLiteTable => is(value, SQLiteTable));

export const tableName = (table: SQLiteTable): string => getTableConfig(table).name;

/** The tables in an order that satisfies every foreign key: a referenced table comes before its referrers. */
export function copyPlan(tables: SQLiteTable[] = SQLITE_TABLES): SQLiteTable[] {
  const needs = new Map(
    tables.map((t) => [
      t,
      getTableConfig(t)
        .foreignKeys.map((fk) => tableName(fk.reference().foreignTable as SQLiteTable))
        .filter((name) => name !== tableName(t)),
    ]),
  );
  const plan: SQLiteTable[] = [];
  const placed = new Set<string>();
  while (plan.length < tables.length) {
    const next = tables.find((t) => !placed.has(tableName(t)) && needs.get(t)!.every((n) => placed.has(n)));
    if (!next) {
      const left = tables.filter((t) => !placed.has(tableName(t))).map(tableName);
      throw new Error(`no foreign-key order for the tables ${left.join(", ")} (a cycle or a table not copied)`);
    }
    plan.push(next);
    placed.add(tableName(next));
  }
  return plan;
}

type CopiedTable = { name: string; rows: number };
export type MigrationReport = { tables: CopiedTable[]; rows: number; seconds: number };

/** postgres.js sends at most 65,535 parameters per statement. */
const MAX_PARAMETERS = 65_000;
const MAX_BATCH_ROWS = 1_000;
const PROGRESS_EVERY_MS = 2_000;

/**
 * Copies the SQLite database at `sqlitePath` (which nothing else may write meanwhile: the caller
 * holds the data directory's lock) into the empty PostgreSQL database at `databaseUrl`.
 * `say` hears progress lines.
 */
export async function migrateToPostgres(options: {
  sqlitePath: string;
  databaseUrl: string;
  say?: (line: string) => void;
}): Promise<MigrationReport> {
  const say = options.say ?? (() => {});
  const started = performance.now();
  const source = openSnapshot(options.sqlitePath);
  const client = openPostgres(options.databaseUrl, { max: 1 });
  try {
    await refuseUnsuitableTarget(client);
    const tables = await client.begin(async (tx) => {
      // Taken before looking: a node starting on this database now waits for the copy, then finds it done.
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      await refuseNonEmptyTarget(tx);
      await applyPgMigrations(tx);
      const target = onTransaction(client, tx);
      const plan = copyPlan();
      // The migrations seed the fixed lookups (roles, ticket states): the appliance's own rows replace them.
      for (const table of [...plan].reverse()) await target.delete(table);
      const copied: CopiedTable[] = [];
      for (const table of plan) copied.push(await copyTable(source, target, table, say, started));
      await continueSequences(tx, source.sequences());
      for (const { name, rows } of copied) {
        const table = plan.find((t) => tableName(t) === name)!;
        const [{ n } = { n: -1 }] = await target.select({ n: count() }).from(table);
        if (n !== rows) throw new Error(`verification failed: ${name} has ${n} rows on PostgreSQL, ${rows} on SQLite`);
      }
      say("verified: every table has as many rows on PostgreSQL as on SQLite; committing");
      return copied;
    });
    const rows = tables.reduce((sum, t) => sum + t.rows, 0);
    return { tables, rows, seconds: (performance.now() - started) / 1000 };
  } finally {
    source.close();
    await client.end();
  }
}

/**
 * The SQLite table objects' builders on an open postgres.js transaction: drizzle's driver runs
 * queries through `unsafe` only, and reads the client's options (which a transaction lacks) once.
 */
function onTransaction(client: PostgresClient, tx: TransactionSql): BunSQLiteDatabase {
  const session = { unsafe: tx.unsafe, options: client.options } as unknown as Sql;
  return pgDrizzle({ client: session }) as unknown as BunSQLiteDatabase;
}

type Snapshot = {
  db: BunSQLiteDatabase;
  /** SQLite's AUTOINCREMENT high-water marks: an id once used (even by a deleted row) is never given again. */
  sequences(): Map<string, number>;
  close(): void;
};

/**
 * One read transaction on its own query-only connection: every table is read from the same
 * snapshot of the database (WAL keeps it while anything else writes).
 */
function openSnapshot(path: string): Snapshot {
  const sqlite = new Database(path, { readwrite: true, create: false, strict: true });
  sqlite.exec("PRAGMA busy_timeout = 5000");
  sqlite.exec("PRAGMA query_only = ON");
  sqlite.exec("BEGIN");
  return {
    db: sqliteDrizzle({ client: sqlite }),
    sequences: () =>
      new Map(
        sqlite
          .query<{ name: string; seq: number }, []>("SELECT name, seq FROM sqlite_sequence")
          .all()
          .map((r) => [r.name, r.seq]),
      ),
    close() {
      if (sqlite.inTransaction) sqlite.exec("COMMIT");
      sqlite.close();
    },
  };
}

async function refuseUnsuitableTarget(client: PostgresClient): Promise<void> {
  const [db] = await client<{ collate: string }[]>`
    SELECT datcollate AS collate FROM pg_database WHERE datname = current_database()`;
  if (!/^(C|POSIX)(\.|$)/i.test(db?.collate ?? "")) {
    throw new Error(
      `the target database sorts text by "${db?.collate}", Switchboard needs the "C" collation ` +
        "(the same order as SQLite for lists and search): create it with " +
        "createdb --template=template0 --locale=C.UTF-8 <name> (or CREATE DATABASE … LOCALE 'C.UTF-8' TEMPLATE template0)",
    );
  }
}

async function refuseNonEmptyTarget(tx: TransactionSql): Promise<void> {
  const found = await tx<{ name: string }[]>`
    SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
    WHERE table_schema = current_schema() OR (table_schema = 'drizzle' AND table_name = '__drizzle_migrations')
    ORDER BY 1`;
  if (found.length === 0) return;
  const names = found.map((r) => r.name);
  throw new Error(
    `the target database is not empty (${names.slice(0, 5).join(", ")}${names.length > 5 ? ", …" : ""}): ` +
      "migrate-to-postgres copies into a new, empty database only. Create one " +
      "(createdb --template=template0 --locale=C.UTF-8 <name>) or drop what is in this one, then run it again",
  );
}

/** Copies one table in batches of whole rows (keyset over SQLite's rowid), ids kept. */
async function copyTable(
  source: Snapshot,
  target: BunSQLiteDatabase,
  table: SQLiteTable,
  say: (line: string) => void,
  started: number,
): Promise<CopiedTable> {
  const name = tableName(table);
  const columns = getTableColumns(table);
  const batch = Math.min(MAX_BATCH_ROWS, Math.floor(MAX_PARAMETERS / Object.keys(columns).length));
  const [{ total } = { total: 0 }] = await source.db.select({ total: count() }).from(table);
  let copied = 0;
  let after = 0;
  const tableStarted = performance.now();
  let lastReport = tableStarted;
  // One insert in flight while the next batch is read and built: PostgreSQL works while we do.
  let writing: Promise<unknown> = Promise.resolve();
  for (;;) {
    const page = await source.db
      .select({ ...columns, rowid: sql<number>`rowid` })
      .from(table)
      .where(sql`rowid > ${after}`)
      .orderBy(sql`rowid`)
      .limit(batch);
    if (page.length === 0) break;
    after = page.at(-1)!.rowid;
    await writing;
    writing = target
      .insert(table)
      .values(page.map(({ rowid: _, ...row }) => row))
      .execute();
    writing.catch(() => {}); // awaited above or below; a failure must not count as unhandled meanwhile
    copied += page.length;
    if (performance.now() - lastReport >= PROGRESS_EVERY_MS) {
      lastReport = performance.now();
      say(`  ${name}: ${copied.toLocaleString("en")} of ${total.toLocaleString("en")} rows (${rate(copied, started)})`);
    }
  }
  await writing;
  // Small tables are left to the summary; a long copy says when each large table is done.
  if (performance.now() - tableStarted >= PROGRESS_EVERY_MS)
    say(`  ${name}: ${copied.toLocaleString("en")} rows copied`);
  return { name, rows: copied };
}

const rate = (rows: number, started: number) =>
  `${Math.round(rows / Math.max(0.001, (performance.now() - started) / 1000)).toLocaleString("en")} rows/s overall`;

/**
 * Each identity column continues past the highest id SQLite gave: its rows' largest id, or the
 * larger AUTOINCREMENT mark a deleted last row left (so "webhook:5" never names a new webhook).
 */
async function continueSequences(tx: TransactionSql, sqliteMarks: Map<string, number>): Promise<void> {
  const identities = await tx<{ table: string; column: string }[]>`
    SELECT table_name AS table, column_name AS column FROM information_schema.columns
    WHERE table_schema = current_schema() AND is_identity = 'YES'`;
  for (const { table, column } of identities) {
    const [row] = await tx<{ max: number | null }[]>`SELECT max(${tx(column)}) AS max FROM ${tx(table)}`;
    const last = Math.max(row?.max ?? 0, sqliteMarks.get(table) ?? 0);
    const sequence = tx`pg_get_serial_sequence(quote_ident(${table}), ${column})`;
    if (last > 0) await tx`SELECT setval(${sequence}, ${last}, true)`;
    else await tx`SELECT setval(${sequence}, 1, false)`;
  }
}

/** The per-table summary printed at the end. */
export function formatSummary(report: MigrationReport): string {
  const width = Math.max(...report.tables.map((t) => t.name.length), 5);
  const lines = report.tables.map((t) => `  ${t.name.padEnd(width)}  ${t.rows.toLocaleString("en").padStart(12)}`);
  const perSecond = Math.round(report.rows / Math.max(0.001, report.seconds)).toLocaleString("en");
  return [
    `  ${"table".padEnd(width)}  ${"rows".padStart(12)}`,
    ...lines,
    `copied ${report.rows.toLocaleString("en")} rows in ${report.tables.length} tables ` +
      `in ${report.seconds.toFixed(1)} s (${perSecond} rows/s), row counts verified`,
  ].join("\n");
}
