import type { Database } from "bun:sqlite";
import { migrations as embedded } from "./migrations.generated";

export class SchemaTooNewError extends Error {}

type Migration = { tag: string; when: number; sql: string };

/**
 * Applies the embedded migrations with drizzle's own bookkeeping table, so drizzle-kit and this
 * function agree on what ran. A database stamped by a newer build is refused, never "downgraded".
 */
export function migrate(sqlite: Database, migrations: Migration[] = embedded): { applied: string[] } {
  sqlite.exec(
    "CREATE TABLE IF NOT EXISTS __drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)",
  );
  const last = sqlite
    .query<{ created_at: number }, []>("SELECT created_at FROM __drizzle_migrations ORDER BY created_at DESC LIMIT 1")
    .get();
  const newest = migrations.at(-1)?.when ?? 0;
  if (last && Number(last.created_at) > newest) {
    throw new SchemaTooNewError(
      "this database was written by a newer version of Switchboard; run that version or restore a backup",
    );
  }
  const pending = migrations.filter((m) => !last || Number(last.created_at) < m.when);
  const insert = sqlite.prepare("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)");
  sqlite.transaction(() => {
    for (const m of pending) {
      for (const statement of m.sql.split("--> statement-breakpoint")) {
        if (statement.trim()) sqlite.exec(statement);
      }
      insert.run(new Bun.CryptoHasher("sha256").update(m.sql).digest("hex"), m.when);
    }
  })();
  return { applied: pending.map((m) => m.tag) };
}

/** How many migrations the database has applied. */
export function countAppliedMigrations(sqlite: Database): number {
  return sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM __drizzle_migrations").get()!.n;
}
