/**
 * bench/pg-client: Bun's built-in SQL client (drizzle-orm/bun-sql) against postgres.js
 * (drizzle-orm/postgres-js) on a throwaway PostgreSQL server, on the query shapes the store runs:
 * a prepared insert…returning, a keyset page of 50 rows, a transaction of 5 statements (one caller
 * each), and the insert + keyset mix from 16 concurrent callers on a pool of 16.
 * Rounds alternate the clients; each shape keeps its best round. Run: npx bun bench/pg-client.ts
 */
import { SQL } from "bun";
import { and, asc, eq, gt, sql } from "drizzle-orm";
import { drizzle as bunSql } from "drizzle-orm/bun-sql";
import { bigint, bigserial, boolean, index, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { drizzle as postgresJs } from "drizzle-orm/postgres-js";
import { openPostgres } from "../src/db/pg-client";
import { startPostgres } from "../test/support/postgres";
import { fmt } from "./support/load";

const SECONDS = Number(process.env.SECONDS ?? 2);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = 16;
const SEED_ROWS = 20_000;

const people = pgTable(
  "people",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    email: text("email").notNull(),
    name: text("name").notNull(),
    active: boolean("active").notNull().default(true),
    traits: jsonb("traits").$type<Record<string, unknown>>().notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [index("people_name").on(t.name, t.id)],
);

type Db = ReturnType<typeof bunSql> | ReturnType<typeof postgresJs>;

function shapes(db: Db) {
  let n = 0;
  const row = () => ({
    email: `p${++n}-${Math.random().toString(36).slice(2, 8)}@example.com`,
    name: `Person ${String(n).padStart(6, "0")}`,
    traits: { plan: "pro", seats: n % 50 },
    updatedAt: Date.now(),
  });
  const insert = db
    .insert(people)
    .values({
      email: sql.placeholder("email"),
      name: sql.placeholder("name"),
      traits: sql.placeholder("traits"),
      updatedAt: sql.placeholder("updatedAt"),
    })
    .returning({ id: people.id })
    .prepare("bench_insert");
  const page = db
    .select()
    .from(people)
    .where(and(gt(people.name, sql.placeholder("name")), eq(people.active, true)))
    .orderBy(asc(people.name), asc(people.id))
    .limit(50)
    .prepare("bench_page");
  const cursor = () => `Person ${String(Math.floor(Math.random() * (SEED_ROWS - 100))).padStart(6, "0")}`;
  const keyset = async () => {
    const rows = await page.execute({ name: cursor() });
    if (rows.length !== 50 || typeof rows[0]?.id !== "number") throw new Error(`bad page: ${rows.length}`);
  };
  const insertOne = async () => {
    const [created] = await insert.execute(row());
    if (typeof created?.id !== "number") throw new Error("no id");
  };
  const transaction = () =>
    db.transaction(async (tx) => {
      const [a] = await tx.insert(people).values(row()).returning({ id: people.id });
      if (!a) throw new Error("no id");
      await tx.update(people).set({ updatedAt: Date.now() }).where(eq(people.id, a.id));
      await tx.select({ id: people.id }).from(people).where(eq(people.id, a.id));
      await tx.insert(people).values(row());
      await tx.update(people).set({ active: true }).where(eq(people.id, a.id));
    });
  return {
    insert: { run: insertOne, callers: 1 },
    keyset: { run: keyset, callers: 1 },
    tx5: { run: transaction, callers: 1 },
    c16: { run: () => (Math.random() < 0.5 ? insertOne() : keyset()), callers: CONCURRENCY },
  };
}

async function opsPerSecond(run: () => Promise<unknown>, callers: number): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  let ops = 0;
  const caller = async () => {
    while (performance.now() < end) {
      await run();
      ops++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: callers }, caller));
  return ops / ((performance.now() - start) / 1000);
}

const server = await startPostgres();
const url = await server.createDatabase();
const setup = new SQL(url);
await setup.unsafe(`CREATE TABLE people (id bigserial PRIMARY KEY, email text NOT NULL, name text NOT NULL,
  active boolean NOT NULL DEFAULT true, traits jsonb NOT NULL, updated_at bigint NOT NULL);
  CREATE INDEX people_name ON people (name, id);
  INSERT INTO people (email, name, traits, updated_at)
    SELECT 'seed' || i || '@example.com', 'Person ' || lpad(i::text, 6, '0'), '{"plan":"free"}', 0 FROM generate_series(1, ${SEED_ROWS}) i;
  ANALYZE people;`);
await setup.close();

const bunClient = new SQL(url, { max: CONCURRENCY });
const pgClient = openPostgres(url, { max: CONCURRENCY }); // as the store opens it: int8 parsed as numbers
const clients = { "bun-sql": shapes(bunSql({ client: bunClient })), "postgres.js": shapes(postgresJs(pgClient)) };
const SHAPES = ["insert", "keyset", "tx5", "c16"] as const;
type Shape = (typeof SHAPES)[number];
const best = { "bun-sql": new Map<Shape, number>(), "postgres.js": new Map<Shape, number>() };
for (const shape of Object.values(clients)) for (const s of Object.values(shape)) await s.run(); // warm-up

for (let round = 0; round < ROUNDS; round++) {
  for (const shape of SHAPES) {
    const order = round % 2 === 0 ? (["bun-sql", "postgres.js"] as const) : (["postgres.js", "bun-sql"] as const);
    for (const client of order) {
      const { run, callers } = clients[client][shape];
      const rate = await opsPerSecond(run, callers);
      best[client].set(shape, Math.max(best[client].get(shape) ?? 0, rate));
    }
  }
}

await bunClient.close();
await pgClient.end();
await server.stop();

for (const shape of SHAPES) {
  const [b, p] = [best["bun-sql"].get(shape) ?? 0, best["postgres.js"].get(shape) ?? 0];
  console.log(`bun-sql ${fmt(b, 0)} ops/s, postgres.js ${fmt(p, 0)} ops/s (${shape})`);
  console.log(`RESULT pg-client-${shape} ${fmt(b, 0)} ops/s ratio=${fmt(b / p, 2)}`);
}
