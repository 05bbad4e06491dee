import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { SQL } from "bun";
import { type PostgresServer, postgresDatabase, startPostgres, POSTGRES_TEST_TIMEOUT } from "../support/postgres";

setDefaultTimeout(POSTGRES_TEST_TIMEOUT);

describe("the throwaway PostgreSQL server for tests", () => {
  let server: PostgresServer;
  afterAll(() => server?.stop());

  test("starts, hands out fresh databases, answers queries", async () => {
    server = await startPostgres();
    const [a, b] = [await server.createDatabase(), await server.createDatabase()];
    expect(a).not.toBe(b);
    const sql = new SQL(a);
    await sql`CREATE TABLE t (id bigint PRIMARY KEY)`;
    await sql`INSERT INTO t VALUES (1), (2)`;
    const [row] = await sql`SELECT count(*)::int AS n, current_database() AS db, version() AS v FROM t`;
    expect(row.n).toBe(2);
    expect(a.endsWith(`/${row.db}`)).toBe(true);
    expect(row.v).toStartWith("PostgreSQL");
    await sql.close();
    const other = new SQL(b);
    const [{ n }] = await other`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 't'`;
    expect(n).toBe(0);
    await other.close();
  });

  test("stop shuts the server down and removes its directory", async () => {
    const url = server.url();
    await server.stop();
    expect(existsSync(server.directory)).toBe(false);
    const sql = new SQL(url, { connectionTimeout: 2 });
    await expect(sql`SELECT 1`).rejects.toThrow();
    await sql.close();
  });
});

test("postgresDatabase gives each caller its own database on one shared server", async () => {
  const [a, b] = await Promise.all([postgresDatabase(), postgresDatabase()]);
  expect(new URL(a).port).toBe(new URL(b).port);
  expect(new URL(a).pathname).not.toBe(new URL(b).pathname);
  const sql = new SQL(a);
  expect((await sql`SELECT 1 AS one`)[0].one).toBe(1);
  await sql.close();
});
