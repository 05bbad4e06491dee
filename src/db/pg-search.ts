import { type SQL, sql } from "drizzle-orm";
import type { SearchKind } from "../domain/users";
import { foldAccents } from "./pg-fold-accents";
import { users } from "./schema";

/**
 * The PostgreSQL counterpart of the search in src/domain/users.ts (matchingIds): the same input
 * classes, answered from the PostgreSQL indexes (pg-schema.ts): the email btree, the email-domain
 * expression index, and the search_words tsvector GIN indexes for words.
 */

/** Values from `prefix` up to the last that starts with it (under the "C" collation, as on SQLite). */
const startsWith = (column: SQL, prefix: string) =>
  sql`${column} >= ${prefix} AND ${column} < ${`${prefix}\u{10FFFF}`}`;
const email = sql`${users.email}`;
/** The same expression as users_email_domain_idx in pg-schema.ts. */
const emailDomain = sql`substr(${users.email}, strpos(${users.email}, '@') + 1)`;

/** An FTS5 prefix query ("jo"* "smi"*, from ftsQuery) as a tsquery (jo:* & smi:*), accents folded as indexed. */
function tsquery(ftsMatch: string): SQL {
  const terms = ftsMatch.match(/"[^"]+"\*/g)?.map((term) => `${term.slice(1, -2)}:*`) ?? [];
  return sql`to_tsquery('simple'::regconfig, ${foldAccents(sql`${terms.join(" & ")}`)})`;
}

/**
 * The same search as a condition on one users row, for walking the name index: the stored tsvector
 * is checked on the row (no GIN scan, which builds the whole match set before the first row).
 */
export function pgRowMatches(kind: SearchKind, exactEmail: boolean): SQL {
  switch (kind.kind) {
    case "email":
      return exactEmail ? sql`${email} = ${kind.address}` : startsWith(email, kind.address);
    case "domain":
      return startsWith(emailDomain, kind.prefix);
    case "email-or-domain":
      return sql`(${startsWith(email, kind.prefix)} OR ${startsWith(emailDomain, kind.prefix)})`;
    case "words":
      return sql`(search_words @@ ${tsquery(kind.match)} OR ${users.organizationId} IN
        (SELECT id FROM organizations WHERE search_words @@ ${tsquery(kind.match)}))`;
  }
}

/** The ids a search matches, as a subquery; `exactEmail` says whether the typed address exists. */
export function pgMatchingIds(kind: SearchKind, exactEmail: boolean): SQL {
  switch (kind.kind) {
    case "email":
      return exactEmail
        ? sql`SELECT id FROM users WHERE ${email} = ${kind.address}`
        : sql`SELECT id FROM users WHERE ${startsWith(email, kind.address)}`;
    case "domain":
      return sql`SELECT id FROM users WHERE ${startsWith(emailDomain, kind.prefix)}`;
    case "email-or-domain":
      return sql`SELECT id FROM users WHERE ${startsWith(email, kind.prefix)}
        UNION SELECT id FROM users WHERE ${startsWith(emailDomain, kind.prefix)}`;
    case "words":
      return sql`SELECT id FROM users WHERE search_words @@ ${tsquery(kind.match)}
        UNION ALL SELECT id FROM users WHERE organization_id IN
          (SELECT id FROM organizations WHERE search_words @@ ${tsquery(kind.match)})`;
  }
}

/** Organizations whose words match an FTS5 prefix query (ftsQuery): the search_words GIN index. */
export const pgOrganizationMatches = (match: string): SQL => sql`search_words @@ ${tsquery(match)}`;

/** The people whose own words (not their organization's) match, as a subquery of ids. */
export const pgPeopleMatchingWords = (match: string): SQL =>
  sql`SELECT id FROM users WHERE search_words @@ ${tsquery(match)}`;
