import { Database } from "bun:sqlite";
import { resolve } from "node:path";
import { sql } from "drizzle-orm";
import { sqlAll, type Db, type StoreDescription } from "./client";
import { migrate } from "./migrate";

/**
 * What operations do with the database itself (checks, migrations, backups, sizes), kept here so the
 * rest of the code never holds a connection. The file-level ones are SQLite's; on PostgreSQL the
 * store checks and migrates itself when it opens (pg-store.ts) and backups are pg_dump's job.
 */

/** What `switchboard backup` and the docs tell a PostgreSQL installation. */
export const PG_BACKUP_HINT =
  "this installation runs on PostgreSQL (--database-url): back it up with pg_dump " +
  "(e.g. pg_dump -Fc -f switchboard.dump <database>), and keep secret.key with it";

/** SQLite's quick_check: ["ok"] for a sound file, else what is wrong (reads every page, skips index contents). */
export function quickCheck(db: Db): string[] {
  const sqlite = db.$client;
  // Every page passes through the cache once: a small one keeps them from filling its 64 MiB, cold.
  const cacheSize = sqlite.query<{ cache_size: number }, []>("PRAGMA cache_size").get()!.cache_size;
  sqlite.run("PRAGMA cache_size = -2048");
  try {
    return sqlite
      .query<{ quick_check: string }, []>("PRAGMA quick_check")
      .all()
      .map((r) => r.quick_check);
  } finally {
    sqlite.run(`PRAGMA cache_size = ${Number(cacheSize)}`);
  }
}

/** quick_check on a file, read-only (a server may be running on it): ["ok"], or what is wrong. */
export function quickCheckFile(path: string): string[] {
  const sqlite = new Database(path, { readonly: true });
  try {
    return quickCheck({ $client: sqlite } as Db);
  } finally {
    sqlite.close();
  }
}

/** The schema cookie (PRAGMA schema_version): reads the header and first page only. */
export function readSchemaVersion(db: Db): number {
  return db.$client.query<{ schema_version: number }, []>("PRAGMA schema_version").get()!.schema_version;
}

/** Applies the embedded migrations not yet applied (SQLite; PostgreSQL migrates when the store opens). */
export function migrateDatabase(db: Db): { applied: string[] } {
  return migrate(db.$client);
}

/** A consistent snapshot into an empty file, while the server keeps running (VACUUM INTO). SQLite only. */
export function backupInto(db: Db, target: string): void {
  if (db.describe.kind !== "sqlite") throw new Error(PG_BACKUP_HINT);
  db.$client.run("VACUUM INTO ?", [resolve(target)]);
}

/** The database's size in bytes: SQLite's file with its write-ahead log, PostgreSQL's pg_database_size. */
export async function databaseBytes(db: Db): Promise<number> {
  if (db.describe.kind === "sqlite") {
    const path = db.describe.path;
    return [path, `${path}-wal`].reduce((sum, p) => sum + (p ? Bun.file(p).size || 0 : 0), 0);
  }
  const [row] = await sqlAll<{ n: number }>(db, sql`SELECT pg_database_size(current_database()) AS n`);
  return row!.n;
}

/** Where a store is, in words for messages and logs: a file path, or PostgreSQL's address (never the password). */
export function storeLocation(where: StoreDescription): string {
  return where.kind === "sqlite"
    ? where.path
    : `postgres://${where.user ? `${where.user}@` : ""}${where.host}:${where.port}/${where.database}`;
}

/** Where the database is (a path, or PostgreSQL's address without the password), its size and migrations. */
export async function databaseFacts(db: Db): Promise<{ path: string; bytes: number; migrations: number }> {
  const where = db.describe;
  const table = where.kind === "sqlite" ? sql`__drizzle_migrations` : sql`drizzle.__drizzle_migrations`;
  const [row] = await sqlAll<{ n: number }>(db, sql`SELECT count(*) AS n FROM ${table}`);
  return { path: storeLocation(where), bytes: await databaseBytes(db), migrations: row!.n };
}
