/**
 * Which store the suite runs on: `TEST_STORE=postgres` runs every server and unit database on a fresh
 * PostgreSQL database of this test process's throwaway server (support/postgres.ts); unset, SQLite.
 * `npm test` runs the suite once on each (scripts/test-both.sh).
 */
import { Database } from "bun:sqlite";
import { describe } from "bun:test";
import { join } from "node:path";
import { SQL } from "bun";
import { statement, type DbOrTx, type StatementParam, type Tx } from "../../src/db/client";
import { postgresDatabase } from "./postgres";

export const TEST_STORE: "sqlite" | "postgres" = process.env.TEST_STORE === "postgres" ? "postgres" : "sqlite";

/** A fresh PostgreSQL database's URL when the suite runs on PostgreSQL, else "" (SQLite in the data dir). */
export async function testDatabaseUrl(): Promise<string> {
  return TEST_STORE === "postgres" ? await postgresDatabase() : "";
}

/**
 * Tests about SQLite itself (its files, modes, WAL, VACUUM INTO backups, PRAGMAs, the data-dir layout)
 * run on the SQLite pass only; `reason` says why they have no PostgreSQL counterpart.
 */
export function describeOnSqlite(reason: string, name: string, body: () => void): void {
  if (!reason) throw new Error("say why the tests are SQLite's only");
  if (TEST_STORE === "sqlite") describe(name, body);
}

/** Tests of what only PostgreSQL does (transactions interleaving): run on the PostgreSQL pass only. */
export function describeOnPostgres(reason: string, name: string, body: () => void): void {
  if (!reason) throw new Error("say why the tests are PostgreSQL's only");
  if (TEST_STORE === "postgres") describe(name, body);
}

/** A test's raw look at the rows (`?` parameters, on either store): what the assertions check. */
export async function rowsOf<T = Record<string, unknown>>(db: DbOrTx, text: string, ...params: StatementParam[]) {
  return (await statement<T>(text).all(db, ...params)) as T[];
}

/** A test's raw write (set a row up as time or a crash would have left it), in its own transaction. */
export async function writeRows(
  db: { transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> },
  text: string,
  ...params: StatementParam[]
): Promise<number> {
  return await db.transaction((tx) => statement(text).run(tx, ...params));
}

/** A statement on the PostgreSQL server of `databaseUrl`, as its superuser, from outside the server under test. */
async function asServerAdmin(databaseUrl: string, work: (admin: SQL, name: string) => Promise<unknown>) {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = "/postgres";
  const admin = new SQL(url.toString());
  try {
    await work(admin, name);
  } finally {
    await admin.close();
  }
}

/** A PostgreSQL database gone away: new connections are refused and the open sessions ended. */
export async function cutOffPostgres(databaseUrl: string): Promise<void> {
  await asServerAdmin(databaseUrl, async (admin, name) => {
    await admin.unsafe(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${name}`;
  });
}

/** Inserts into `table` fail as on a full disk (SQLSTATE 53100, disk_full), in every session at once. */
export async function fillPostgres(databaseUrl: string, table: string): Promise<void> {
  const sql = new SQL(databaseUrl);
  try {
    await sql.unsafe(`CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$`);
    await sql.unsafe(`CREATE TRIGGER test_disk_full BEFORE INSERT ON ${table} EXECUTE FUNCTION test_disk_full()`);
  } finally {
    await sql.close();
  }
}

/** Which of these people are not in a data directory's SQLite file (read after its server was killed). */
export function missingUsers(dataDir: string, ids: number[]): number[] {
  const file = new Database(join(dataDir, "switchboard.db"), { readonly: true });
  try {
    const stored = new Set(
      file
        .query<{ id: number }, []>("SELECT id FROM users")
        .all()
        .map((r) => r.id),
    );
    return ids.filter((id) => !stored.has(id));
  } finally {
    file.close();
  }
}
