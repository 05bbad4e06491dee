import { hashOf, type Migration, pendingMigrations, statementsOf } from "./migration-plan";
import { pgMigrations } from "./migrations.generated";
import type { TransactionSql } from "postgres";
import type { PostgresClient } from "./pg-client";

/** The advisory lock every node takes to migrate: one migrates, the others wait, then find nothing to do. */
export const MIGRATION_LOCK = 0x5357_4d49_4752; // "SWMIGR"

/**
 * Applies the embedded PostgreSQL migrations in one transaction under a transaction-scoped advisory
 * lock (released by commit or rollback, also when the node dies), with drizzle's own bookkeeping
 * table in its usual place, drizzle.__drizzle_migrations. A database stamped by a newer build is refused.
 */
export async function migratePostgres(
  sql: PostgresClient,
  migrations: Migration[] = pgMigrations,
): Promise<{ applied: string[] }> {
  return sql.begin((tx) => applyPgMigrations(tx, migrations));
}

/** migratePostgres inside a transaction the caller holds (migrate-to-postgres: the schema and the copy commit together). */
export async function applyPgMigrations(
  tx: TransactionSql,
  migrations: Migration[] = pgMigrations,
): Promise<{ applied: string[] }> {
  await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
  await tx`CREATE SCHEMA IF NOT EXISTS drizzle`;
  await tx`CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id serial PRIMARY KEY, hash text NOT NULL, created_at bigint)`;
  const [last] = await tx<{ created_at: number }[]>`
    SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1`;
  const pending = pendingMigrations(last?.created_at, migrations);
  for (const m of pending) {
    for (const statement of statementsOf(m)) await tx.unsafe(statement);
    await tx`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${hashOf(m)}, ${m.when})`;
  }
  return { applied: pending.map((m) => m.tag) };
}
