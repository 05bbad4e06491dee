/**
 * bench/pg-search: the people search of bench/people.ts on PostgreSQL. Loads USERS people (default
 * 200,000) and 2,000 organizations into a throwaway server migrated with migrations-pg/, then times the
 * admin search (sorted by name, 50 a page) per query class at p95, through the stack the PostgreSQL
 * store will use: drizzle queries built from our SQLite table objects, run by postgres.js. Each input
 * is classified by searchKind (as on SQLite) and answered from its index: the email index, the
 * email-domain expression index, or the search_words tsvector GIN indexes with prefix terms.
 * (src/db/pg-search.ts). Goal: p95 < 30 ms for every class. Run: npx bun bench/pg-search.ts
 */
import { asc, sql } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { drizzle } from "drizzle-orm/postgres-js";
import { openPostgres } from "../src/db/pg-client";
import { migratePostgres } from "../src/db/pg-migrate";
import { pgMatchingIds, pgRowMatches } from "../src/db/pg-search";
import { users } from "../src/db/schema";
import { searchKind } from "../src/domain/users";
import { startPostgres } from "../test/support/postgres";
import { fmt, percentiles } from "./support/load";
import { person, queryClasses } from "./support/people-data";

const USERS = Number(process.env.USERS ?? 200_000);
const ORGANIZATIONS = 2000;
const BATCH = 5000;
const CLASS_SAMPLES = Number(process.env.CLASS_SAMPLES ?? 100);
const GOAL_MS = 30;
const PAGE = 50;

const server = await startPostgres();
const client = openPostgres(await server.createDatabase(), { max: 4 });
await migratePostgres(client);
const db = drizzle({ client }) as unknown as BunSQLiteDatabase;

const loadStarted = performance.now();
await client`INSERT INTO organizations (name) SELECT 'Company ' || i FROM generate_series(0, ${ORGANIZATIONS - 1}) i`;
for (let start = 0; start < USERS; start += BATCH) {
  const rows = Array.from({ length: Math.min(BATCH, USERS - start) }, (_, k) => {
    const i = start + k;
    const { traits } = person(i);
    return {
      login: `user-${i}`,
      email: traits.email,
      firstname: traits.firstName,
      lastname: traits.lastName,
      organization_id: (i % ORGANIZATIONS) + 1,
    };
  });
  await client`INSERT INTO users ${client(rows)}`;
}
await client`VACUUM ANALYZE users`;
await client`VACUUM ANALYZE organizations`;
console.log(`loaded ${USERS} people in ${fmt((performance.now() - loadStarted) / 1000)} s`);

const nameKeys = [sql`coalesce(${users.lastname}, '')`, sql`coalesce(${users.firstname}, '')`, sql`${users.id}`];

/** Rows of the name order a page walks before it gives up on the broad plan. */
const WALK = 5000;

/**
 * The first page sorted by name, in two steps that need no count: walk the first WALK rows of the
 * name index keeping the matching ones (enough when the search is broad: a full page is the answer),
 * else look the matches up by their index and sort them (few matches, so few to sort).
 */
async function searchPage(q: string, ran: Query[] = []) {
  const kind = searchKind(q);
  if (!kind) throw new Error(`no search for ${q}`);
  const address = kind.kind === "email" ? kind.address : "";
  const exactQuery = db.select({ id: users.id }).from(users).where(sql`${users.email} = ${address}`);
  if (kind.kind === "email") ran.push(exactQuery);
  const exact = kind.kind === "email" && (await exactQuery).length > 0;
  const order = nameKeys.map((k) => asc(k));
  // The first WALK rows by name, all columns (search_words too, which the SQLite table object lacks).
  const walk = sql`SELECT id FROM (SELECT * FROM users ORDER BY ${sql.join(nameKeys, sql`, `)} LIMIT ${WALK}) AS users
    WHERE ${pgRowMatches(kind, exact)}`;
  const walkQuery = db
    .select()
    .from(users)
    .where(sql`${users.id} IN (${walk})`)
    .orderBy(...order)
    .limit(PAGE + 1);
  ran.push(walkQuery);
  const walked = await walkQuery;
  if (walked.length > PAGE) return { rows: walked, plan: "walk" };
  const lookupQuery = db
    .select()
    .from(users)
    .where(sql`${users.id} IN (${pgMatchingIds(kind, exact)})`)
    .orderBy(...order)
    .limit(PAGE + 1);
  ran.push(lookupQuery);
  return { rows: await lookupQuery, plan: "lookup" };
}

type Query = { toSQL(): { sql: string; params: unknown[] } };

/**
 * What the queries cost the server (planning + execution, EXPLAIN ANALYZE): on a busy machine the
 * wall time is mostly waiting for a core, this is the work the indexes leave.
 */
async function serverMs(queries: Query[]): Promise<number> {
  let total = 0;
  for (const query of queries) {
    const { sql: text, params } = query.toSQL();
    const [row] = await client.unsafe(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${text}`, params as never[]);
    const [plan] = (row as unknown as { "QUERY PLAN": { "Planning Time": number; "Execution Time": number }[] })[
      "QUERY PLAN"
    ];
    total += (plan?.["Planning Time"] ?? 0) + (plan?.["Execution Time"] ?? 0);
  }
  return total;
}

const p95s: Record<string, number> = {};
const serverP95s: Record<string, number> = {};
// The floor on this machine: one primary-key lookup through the same stack.
const floor: number[] = [];
for (let i = 0; i < CLASS_SAMPLES; i++) {
  const t0 = performance.now();
  await db
    .select()
    .from(users)
    .where(sql`${users.id} = ${1 + (i % USERS)}`);
  floor.push(performance.now() - t0);
}
const floorP = percentiles(floor);
console.log(
  `${"id lookup (floor)".padEnd(18)} p50 ${fmt(floorP.p50).padStart(6)} ms   p95 ${fmt(floorP.p95).padStart(6)} ms`,
);
for (const [name, queries] of Object.entries(queryClasses(USERS))) {
  for (const q of queries) await searchPage(q); // warm-up
  const latencies: number[] = [];
  const server: number[] = [];
  const found: string[] = [];
  for (let i = 0; i < CLASS_SAMPLES; i++) {
    const q = queries[i % queries.length] as string;
    const ran: Query[] = [];
    const t0 = performance.now();
    const { rows, plan } = await searchPage(q, ran);
    latencies.push(performance.now() - t0);
    server.push(await serverMs(ran));
    if (i < queries.length) found.push(`${q}: ${rows.length}${rows.length > PAGE ? "+" : ""} (${plan})`);
  }
  const p = percentiles(latencies);
  const sp = percentiles(server);
  p95s[name] = p.p95;
  serverP95s[name] = sp.p95;
  console.log(
    `${name.padEnd(18)} p50 ${fmt(p.p50).padStart(6)} ms   p95 ${fmt(p.p95).padStart(6)} ms   ` +
      `server p50 ${fmt(sp.p50)} ms p95 ${fmt(sp.p95)} ms   ${found.join(", ")}`,
  );
}
await client.end();
await server.stop();

for (const [name, p95] of Object.entries(p95s)) {
  const slug = name.replaceAll(" ", "-");
  console.log(`RESULT pg-search-${slug} ${fmt(p95)} ms ratio=${fmt(p95 / GOAL_MS, 2)}`);
  const server = serverP95s[name] ?? 0;
  console.log(`RESULT pg-search-${slug}-server ${fmt(server)} ms ratio=${fmt(server / GOAL_MS, 2)}`);
}
