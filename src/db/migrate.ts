import type { Database } from "bun:sqlite";
import { type Migration, hashOf, pendingMigrations, statementsOf } from "./migration-plan";
import { migrations as embedded } from "./migrations.generated";
import { fillNameWords } from "./fts-words";

export { SchemaTooNewError } from "./migration-plan";

/**
 * Work SQL cannot do (filling a column computed in TypeScript), named in a migration by a statement of its own,
 * `SELECT 'data step: <name>';`, which drizzle's own migrator runs as the no-op it is.
 */
const DATA_STEPS: Record<string, (sqlite: Database) => void> = { "users.name_words": fillNameWords };
const DATA_STEP = /^\s*SELECT 'data step: ([\w.]+)';\s*$/;

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
      for (const statement of statementsOf(m)) {
        const step = DATA_STEP.exec(statement)?.[1];
        if (step) DATA_STEPS[step]!(sqlite);
        else sqlite.exec(statement);
      }
      insert.run(hashOf(m), m.when);
    }
  })();
  return { applied: pending.map((m) => m.tag) };
}
