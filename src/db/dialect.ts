import { type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { SearchKind } from "../domain/users";
import { pgMatchingIds, pgOrganizationMatches, pgPeopleMatchingWords } from "./pg-search";
import { sqliteMatchingIds, sqliteOrganizationMatches, sqlitePeopleMatchingWords } from "./sqlite-search";

type Operand = SQL | SQLiteColumn;

/**
 * The few SQL fragments the two stores spell differently, chosen once when the store opens and
 * reachable from any handle (`dialectOf(db)` in client.ts). Everything else is built by drizzle's
 * query builders, which speak both.
 */
export type Dialect = {
  name: "sqlite" | "postgres";
  /** Whether transactions run side by side (PostgreSQL) rather than one at a time (SQLite's FIFO). */
  transactionsInterleave: boolean;
  /** `column LIKE pattern ESCAPE '\'`, case-insensitive as SQLite's LIKE is (PostgreSQL: ILIKE). */
  likeInsensitive(column: Operand, pattern: string): SQL;
  /** "`text` contains `part`" (SQLite's instr, PostgreSQL's strpos): true, false, or null for a null text. */
  contains(text: Operand, part: string): SQL;
  /** The larger of two numbers (SQLite's two-argument max, PostgreSQL's greatest). */
  greatest(a: Operand, b: Operand | number): SQL;
  /** A top-level field of a JSON text column, as text. */
  jsonText(column: Operand, field: string): SQL;
  /** The ids of the people a search matches, as a subquery (FTS5 on SQLite, pg-search.ts on PostgreSQL). */
  peopleMatching(kind: SearchKind, exactEmail: boolean): SQL;
  /** The ids of the people whose own words match (an FTS5 prefix query, ftsQuery), organizations aside. */
  peopleMatchingWords(match: string): SQL;
  /** The condition "this organizations row matches these words" (an FTS5 prefix query, ftsQuery). */
  organizationMatches(match: string): SQL;
};

export const sqliteDialect: Dialect = {
  name: "sqlite",
  transactionsInterleave: false,
  likeInsensitive: (column, pattern) => sql`${column} LIKE ${pattern} ESCAPE '\\'`,
  contains: (text, part) => sql`instr(${text}, ${part}) > 0`,
  greatest: (a, b) => sql`max(${a}, ${b})`,
  jsonText: (column, field) => sql`json_extract(${column}, ${`$.${field}`})`,
  peopleMatching: sqliteMatchingIds,
  peopleMatchingWords: sqlitePeopleMatchingWords,
  organizationMatches: sqliteOrganizationMatches,
};

export const postgresDialect: Dialect = {
  name: "postgres",
  transactionsInterleave: true,
  likeInsensitive: (column, pattern) => sql`${column} ILIKE ${pattern} ESCAPE '\\'`,
  contains: (text, part) => sql`strpos(${text}, ${part}) > 0`,
  greatest: (a, b) => sql`greatest(${a}, ${b})`,
  jsonText: (column, field) => sql`(${column}::json ->> ${field}::text)`,
  peopleMatching: pgMatchingIds,
  peopleMatchingWords: pgPeopleMatchingWords,
  organizationMatches: pgOrganizationMatches,
};
