import type { Database } from "bun:sqlite";
import { type Migration, hashOf, pendingMigrations, statementsOf } from "./migration-plan";
import { migrations as embedded } from "./migrations.generated";

export { SchemaTooNewError } from "./migration-plan";

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
  const pending = pendingMigrations(last ? Number(last.created_at) : undefined, migrations);
  const insert = sqlite.prepare("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)");
  sqlite.transaction(() => {
    for (const m of pending) {
      for (const statement of statementsOf(m)) sqlite.exec(statement);
      insert.run(hashOf(m), m.when);
    }
  })();
  return { applied: pending.map((m) => m.tag) };
}
