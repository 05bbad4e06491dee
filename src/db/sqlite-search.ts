import { type SQL, sql } from "drizzle-orm";
import type { SearchKind } from "../domain/users";
import { organizations, users } from "./schema";

/**
 * The SQLite side of people and organization search (src/domain/users.ts, organizations.ts): the
 * email btree, the email-domain expression index and the FTS5 tables. pg-search.ts is its twin.
 */

/** The part of an email after the @: the same expression as the users_email_domain_idx index. */
const emailDomain = sql`substr(${users.email}, instr(${users.email}, '@') + 1)`;
/** Values from `prefix` up to the last that starts with it (the largest code point sorts after every UTF-8 text). */
const startsWith = (column: SQL | typeof users.email, prefix: string) =>
  sql`${column} >= ${prefix} AND ${column} < ${`${prefix}\u{10FFFF}`}`;

/** The ids a search matches, as a subquery each kind of input answers from its own index. */
export function sqliteMatchingIds(kind: SearchKind, exactEmail: boolean): SQL {
  switch (kind.kind) {
    case "email":
      return exactEmail
        ? sql`SELECT id FROM users WHERE ${users.email} = ${kind.address}`
        : sql`SELECT id FROM users WHERE ${startsWith(users.email, kind.address)}`;
    case "domain":
      return sql`SELECT id FROM users WHERE ${startsWith(emailDomain, kind.prefix)}`;
    case "email-or-domain":
      return sql`SELECT id FROM users WHERE ${startsWith(users.email, kind.prefix)}
        UNION SELECT id FROM users WHERE ${startsWith(emailDomain, kind.prefix)}`;
    case "words":
      return sql`SELECT rowid FROM users_fts WHERE users_fts MATCH ${kind.match}
        UNION ALL SELECT id FROM users
        WHERE organization_id IN (SELECT rowid FROM organizations_fts WHERE organizations_fts MATCH ${kind.match})`;
  }
}

/** Organizations whose words match an FTS5 prefix query (ftsQuery). */
export const sqliteOrganizationMatches = (match: string): SQL =>
  sql`${organizations.id} IN (SELECT rowid FROM organizations_fts WHERE organizations_fts MATCH ${match})`;

/** The people whose own words (not their organization's) match, as a subquery of ids in id order. */
export const sqlitePeopleMatchingWords = (match: string): SQL =>
  sql`SELECT rowid AS id FROM users_fts WHERE users_fts MATCH ${match}`;
