import { resolve } from "node:path";
import { sql } from "drizzle-orm";
import { sqlAll, type Db } from "./client";
import { migrate } from "./migrate";

/**
 * What operations do with the database file itself (checks, migrations, backups, sizes): SQLite's
 * own, kept here so the rest of the code never holds a connection.
 */

/** SQLite's quick_check: ["ok"] for a sound file, else what is wrong (reads every page, skips index contents). */
export function quickCheck(db: Db): string[] {
  return db.$client
    .query<{ quick_check: string }, []>("PRAGMA quick_check")
    .all()
    .map((r) => r.quick_check);
}

/** Applies the embedded migrations not yet applied. */
export function migrateDatabase(db: Db): { applied: string[] } {
  return migrate(db.$client);
}

/** A consistent snapshot into an empty file, while the server keeps running (VACUUM INTO). */
export function backupInto(db: Db, target: string): void {
  db.$client.run("VACUUM INTO ?", [resolve(target)]);
}

/** The database's size on disk (with its write-ahead log) and how many migrations it has. */
export async function databaseFacts(db: Db): Promise<{ path: string; bytes: number; migrations: number }> {
  const bytes = [db.path, `${db.path}-wal`].reduce((sum, p) => sum + (p ? Bun.file(p).size || 0 : 0), 0);
  const [row] = await sqlAll<{ n: number }>(db, sql`SELECT count(*) AS n FROM __drizzle_migrations`);
  return { path: db.path, bytes, migrations: row!.n };
}
