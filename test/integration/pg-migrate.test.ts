import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SchemaTooNewError } from "../../src/db/migration-plan";
import { migratePostgres, MIGRATION_LOCK } from "../../src/db/pg-migrate";
import { openPostgres, type PostgresClient } from "../../src/db/pg-client";
import { pgMigrations } from "../../src/db/migrations.generated";
import { postgresDatabase, POSTGRES_TEST_TIMEOUT } from "../support/postgres";

setDefaultTimeout(POSTGRES_TEST_TIMEOUT);

const clients: PostgresClient[] = [];
const connect = (url: string) => {
  const client = openPostgres(url, { max: 2 });
  clients.push(client);
  return client;
};
afterAll(() => Promise.all(clients.map((c) => c.end())));

const tables = async (sql: PostgresClient) =>
  (await sql<{ name: string }[]>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`).map(
    (r) => r.name,
  );

describe("PostgreSQL migrations", () => {
  test("migrate an empty database, then find nothing to do", async () => {
    const sql = connect(await postgresDatabase());
    const first = await migratePostgres(sql);
    expect(first.applied).toEqual(pgMigrations.map((m) => m.tag));
    expect(await tables(sql)).toContain("delivery_jobs");
    expect((await sql`SELECT name FROM roles ORDER BY id`).map((r) => r.name)).toEqual(["Admin", "Agent", "Customer"]);
    expect((await migratePostgres(sql)).applied).toEqual([]);
    const [row] = await sql<{ n: number }[]>`SELECT count(*) AS n FROM drizzle.__drizzle_migrations`;
    expect(row?.n).toBe(pgMigrations.length);
  });

  test("a node waits while another holds the migration lock, and migrates after it", async () => {
    const url = await postgresDatabase();
    const [a, b, holder] = [connect(url), connect(url), connect(url)];
    let releaseLock = () => {};
    const held = new Promise<void>((resolve) => (releaseLock = resolve));
    let locked = () => {};
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    // Another node mid-migration: it holds the lock inside its transaction.
    const other = holder.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      locked();
      await held;
    });
    await lockTaken;
    const order: string[] = [];
    const waiting = migratePostgres(a).then((r) => {
      order.push("migrated");
      return r;
    });
    await Bun.sleep(300);
    const [row] = await b<{ waiters: number }[]>`
      SELECT count(*) AS waiters FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`;
    expect(row?.waiters).toBe(1);
    expect(order).toEqual([]);
    order.push("released");
    releaseLock();
    await other;
    expect((await waiting).applied).toEqual(pgMigrations.map((m) => m.tag));
    expect(order).toEqual(["released", "migrated"]);
  });

  test("two nodes starting together: one migrates, the other waits and applies nothing", async () => {
    const url = await postgresDatabase();
    const results = await Promise.all([migratePostgres(connect(url)), migratePostgres(connect(url))]);
    const applied = results.map((r) => r.applied.length).sort();
    expect(applied).toEqual([0, pgMigrations.length]);
  });

  test("a database written by a newer version is refused", async () => {
    const sql = connect(await postgresDatabase());
    await migratePostgres(sql);
    const newer = { tag: "9999_future", when: Date.now() + 86_400_000, sql: "SELECT 1" };
    await migratePostgres(sql, [...pgMigrations, newer]);
    await expect(migratePostgres(sql)).rejects.toThrow(SchemaTooNewError);
  });
});
