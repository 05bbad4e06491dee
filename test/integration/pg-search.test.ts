/**
 * Search on PostgreSQL (src/db/pg-search.ts, the search_words columns of migrations-pg) finds the same
 * people as FTS5 and the email indexes find on SQLite, for every kind of input, both as an id lookup
 * and as the per-row check a walk of the name index uses.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { asc, sql } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { drizzle } from "drizzle-orm/postgres-js";
import { openPostgres, type PostgresClient } from "../../src/db/pg-client";
import { migratePostgres } from "../../src/db/pg-migrate";
import { pgMatchingIds, pgRowMatches } from "../../src/db/pg-search";
import { organizations, users } from "../../src/db/schema";
import { type SearchKind, searchCondition, searchKind } from "../../src/domain/users";
import { POSTGRES_TEST_TIMEOUT, postgresDatabase } from "../support/postgres";
import { memoryDb } from "../support/unit-db";

setDefaultTimeout(POSTGRES_TEST_TIMEOUT);

const ORGANIZATIONS = [
  { id: 1, name: "Acme Corp", domain: "acme.com" },
  { id: 2, name: "Zoëtis Labs", domain: "zoetis.io" },
];
const PEOPLE = [
  ["ada", "ada.lovelace@acme.com", "Ada", "Lovelace", 1],
  ["alan", "alan.turing@bletchley.uk", "Alan", "Turing", null],
  ["grace", "grace.hopper@navy.mil", "Grace", "Hopper", 2],
  ["zoe", "zoe.smith-jones@example-17.com", "Zoë", "Smith-Jones", null],
  ["jo", "jo.smith@example-170.com", "Jo", "Smith", 1],
  ["josé", "jose.garcia@example-2.com", "José", "García", null],
  ["mary", "mary_o'neil+news@acme.co.uk", "Mary", "O'Neil", 2],
  ["wei", null, "Wei", "Lee", null],
] as const;
const QUERIES = [
  "a",
  "j",
  "jo",
  "smi",
  "smith",
  "jo smi",
  "smith jones",
  "zoe",
  "zoë",
  "jose",
  "garcía",
  "acme",
  "acme corp",
  "zoetis",
  "labs",
  "o'neil",
  "neil",
  "news",
  "ada.lovelace@acme.com",
  "ada.lo",
  "grace.hopper@navy",
  "@acme",
  "@example-17",
  "example-17.com",
  "acme.com",
  "bletchley.uk",
  "lee",
  "17",
  "nobody",
  "x@y.z",
];

const rows = {
  organizations: ORGANIZATIONS,
  users: PEOPLE.map(([login, email, firstname, lastname, organizationId], i) => ({
    id: i + 1,
    login,
    email,
    firstname,
    lastname,
    organizationId,
  })),
};

let client: PostgresClient;
let pg: BunSQLiteDatabase;
const sqlite = memoryDb();

beforeAll(async () => {
  client = openPostgres(await postgresDatabase());
  await migratePostgres(client);
  pg = drizzle({ client }) as unknown as BunSQLiteDatabase;
  await sqlite.transaction(async (tx) => {
    await tx.insert(organizations).values(rows.organizations);
    await tx.insert(users).values(rows.users);
  });
  await pg.insert(organizations).values(rows.organizations);
  await pg.insert(users).values(rows.users);
});
afterAll(() => client.end());

const exactEmail = async (kind: SearchKind) =>
  kind.kind === "email" &&
  (await pg.select({ id: users.id }).from(users).where(sql`${users.email} = ${kind.address}`)).length > 0;
const ids = (found: { id: number }[]) => found.map((r) => r.id);

describe("search on PostgreSQL finds what SQLite finds", () => {
  for (const q of QUERIES) {
    test(JSON.stringify(q), async () => {
      const kind = searchKind(q);
      if (!kind) throw new Error(`no search for ${q}`);
      const { condition } = await searchCondition(sqlite, kind);
      const expected = ids(await sqlite.select({ id: users.id }).from(users).where(condition).orderBy(asc(users.id)));
      const exact = await exactEmail(kind);
      const lookedUp = await pg
        .select({ id: users.id })
        .from(users)
        .where(sql`${users.id} IN (${pgMatchingIds(kind, exact)})`)
        .orderBy(asc(users.id));
      const walked = await pg
        .select({ id: users.id })
        .from(users)
        .where(pgRowMatches(kind, exact))
        .orderBy(asc(users.id));
      expect(ids(lookedUp)).toEqual(expected);
      expect(ids(walked)).toEqual(expected);
    });
  }

  test("the queries cover every kind of input and both outcomes", () => {
    const kinds = new Set(QUERIES.map((q) => searchKind(q)?.kind));
    expect([...kinds].sort()).toEqual(["domain", "email", "email-or-domain", "words"]);
  });
});
