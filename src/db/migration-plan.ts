/** What both migrators (SQLite and PostgreSQL) share: the embedded list, the order and the refusal rule. */
export type Migration = { tag: string; when: number; sql: string };

export class SchemaTooNewError extends Error {}

/**
 * The migrations still to apply to a database whose last applied one is stamped `lastApplied`
 * (drizzle's created_at). A database stamped by a newer build is refused, never "downgraded".
 */
export function pendingMigrations(lastApplied: number | undefined, migrations: Migration[]): Migration[] {
  const newest = migrations.at(-1)?.when ?? 0;
  if (lastApplied !== undefined && lastApplied > newest) {
    throw new SchemaTooNewError(
      "this database was written by a newer version of Switchboard; run that version or restore a backup",
    );
  }
  return migrations.filter((m) => lastApplied === undefined || lastApplied < m.when);
}

/** drizzle-kit separates a migration's statements with this marker. */
export const statementsOf = (m: Migration): string[] =>
  m.sql.split("--> statement-breakpoint").filter((statement) => statement.trim());

/** The hash drizzle's own migrators record for a migration. */
export const hashOf = (m: Migration): string => new Bun.CryptoHasher("sha256").update(m.sql).digest("hex");
