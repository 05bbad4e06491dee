import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { sql } from "drizzle-orm";
import { openDatabase, sqlAll, sqlRun, type Db, type DbOrTx } from "../../src/db/client";
import { GroupCommit } from "../../src/db/group-commit";
import { openPostgresStore } from "../../src/db/pg-store";
import { POSTGRES_TEST_TIMEOUT, postgresDatabase } from "../support/postgres";
import { tempDir } from "../support/server";
import { describeOnSqlite, TEST_STORE } from "../support/store";

setDefaultTimeout(POSTGRES_TEST_TIMEOUT);

const dir = tempDir("switchboard-store-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A store on the suite's store (a real SQLite file, or a fresh PostgreSQL database) with one table. */
async function fixture(): Promise<Db> {
  const db =
    TEST_STORE === "postgres"
      ? await openPostgresStore(await postgresDatabase(), { max: 4 })
      : openDatabase(join(dir, `${++files}.db`));
  await db.transaction((tx) => sqlRun(tx, sql`CREATE TABLE t (n INTEGER PRIMARY KEY)`));
  return db;
}
const rows = async (db: DbOrTx) => (await sqlAll<{ n: number }>(db, sql`SELECT n FROM t ORDER BY n`)).map((r) => r.n);
/** Lets every timer and I/O callback due now run (a transaction's work may wait on anything). */
const turn = () => new Promise((r) => setTimeout(r, 5));

describe("the store", () => {
  test("a read outside the transaction does not see what an open transaction has written", async () => {
    const db = await fixture();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let written!: () => void;
    const wrote = new Promise<void>((r) => (written = r));
    const open = db.transaction(async (tx) => {
      await sqlRun(tx, sql`INSERT INTO t (n) VALUES (1)`);
      expect(await rows(tx)).toEqual([1]); // the transaction sees its own row
      written();
      await held;
    });
    await wrote;
    expect(await rows(db)).toEqual([]);
    release();
    await open;
    expect(await rows(db)).toEqual([1]);
    await db.close();
  });

  test("a throwing transaction rolls back all its rows; its after-commit hooks never run; the next one runs", async () => {
    const db = await fixture();
    const hooks: string[] = [];
    const boom = new Error("refused");
    const failed = db.transaction(async (tx) => {
      tx.afterCommit(() => hooks.push("failed"));
      await sqlRun(tx, sql`INSERT INTO t (n) VALUES (1)`);
      await turn();
      await sqlRun(tx, sql`INSERT INTO t (n) VALUES (2)`);
      throw boom;
    });
    const next = db.transaction(async (tx) => {
      tx.afterCommit(() => hooks.push("next"));
      await sqlRun(tx, sql`INSERT INTO t (n) VALUES (3)`);
    });
    expect(failed).rejects.toBe(boom);
    await next;
    expect(await rows(db)).toEqual([3]);
    expect(hooks).toEqual(["next"]);
    await db.close();
  });

  test("after-commit hooks run once the rows are visible to reads, once each", async () => {
    const db = await fixture();
    const seen: number[][] = [];
    const hook = () => void rows(db).then((r) => seen.push(r));
    await db.transaction(async (tx) => {
      tx.afterCommit(hook);
      await sqlRun(tx, sql`INSERT INTO t (n) VALUES (1)`);
      tx.afterCommit(hook);
    });
    await turn();
    expect(seen).toEqual([[1]]);
    await db.close();
  });

  test("a failing savepoint rolls back its own rows and hooks; the transaction commits the rest", async () => {
    const db = await fixture();
    const hooks: string[] = [];
    await db.transaction(async (tx) => {
      await sqlRun(tx, sql`INSERT INTO t (n) VALUES (1)`);
      await expect(
        tx.savepoint(async (sp) => {
          sp.afterCommit(() => hooks.push("inner"));
          await sqlRun(sp, sql`INSERT INTO t (n) VALUES (2)`);
          throw new Error("inner");
        }),
      ).rejects.toThrow("inner");
      tx.afterCommit(() => hooks.push("outer"));
      await sqlRun(tx, sql`INSERT INTO t (n) VALUES (3)`);
    });
    expect(await rows(db)).toEqual([1, 3]);
    expect(hooks).toEqual(["outer"]);
    await db.close();
  });

  test("group commit with async work: a failing item rolls back alone and waits like the rest", async () => {
    const db = await fixture();
    const writes = new GroupCommit(db);
    const outcomes = await Promise.allSettled([
      writes.run(async (tx) => {
        await sqlRun(tx, sql`INSERT INTO t (n) VALUES (1)`);
        await turn();
        return "one";
      }),
      writes.run(async (tx) => {
        await sqlRun(tx, sql`INSERT INTO t (n) VALUES (2)`);
        await turn();
        throw new Error("second fails");
      }),
      writes.run(async (tx) => {
        await turn();
        await sqlRun(tx, sql`INSERT INTO t (n) VALUES (3)`);
        return "three";
      }),
    ]);
    expect(outcomes.map((o) => (o.status === "fulfilled" ? o.value : String(o.reason)))).toEqual([
      "one",
      "Error: second fails",
      "three",
    ]);
    expect(await rows(db)).toEqual([1, 3]);
    await db.close();
  });
});

describeOnSqlite(
  "SQLite has one write connection (a FIFO queue of transactions) and a query-only read connection; " +
    "PostgreSQL runs transactions side by side (below) and its pool is not read-only",
  "the SQLite store",
  () => {
    test("transactions with awaits inside run one after the other, in the order they were asked for", async () => {
      const db = await fixture();
      const trace: string[] = [];
      const run = (name: string, n: number) =>
        db.transaction(async (tx) => {
          trace.push(`${name} begin`);
          await turn();
          await sqlRun(tx, sql`INSERT INTO t (n) VALUES (${n})`);
          await turn();
          trace.push(`${name} end`);
          return n;
        });
      expect(await Promise.all([run("a", 1), run("b", 2), run("c", 3)])).toEqual([1, 2, 3]);
      expect(trace).toEqual(["a begin", "a end", "b begin", "b end", "c begin", "c end"]);
      expect(await rows(db)).toEqual([1, 2, 3]);
      await db.close();
    });

    test("the read connection refuses writes", async () => {
      const db = await fixture();
      const refused = await sqlRun(db as never, sql`INSERT INTO t (n) VALUES (1)`).catch((err: Error) => err);
      expect(String((refused as Error).cause)).toMatch(/readonly|read-only/i);
      expect(await rows(db)).toEqual([]);
      await db.close();
    });
  },
);

if (TEST_STORE === "postgres")
  describe("the PostgreSQL store", () => {
    test("transactions run side by side, each isolated until it commits", async () => {
      const db = await fixture();
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let wrote!: () => void;
      const first = new Promise<void>((r) => (wrote = r));
      const slow = db.transaction(async (tx) => {
        await sqlRun(tx, sql`INSERT INTO t (n) VALUES (1)`);
        wrote();
        await held;
      });
      await first;
      // A second transaction commits while the first is still open: no queue behind it.
      await db.transaction(async (tx) => {
        expect(await rows(tx)).toEqual([]);
        await sqlRun(tx, sql`INSERT INTO t (n) VALUES (2)`);
      });
      expect(await rows(db)).toEqual([2]);
      release();
      await slow;
      expect(await rows(db)).toEqual([1, 2]);
      await db.close();
    });

    test("a statement that failed in the work, its error caught, rolls the whole transaction back: the caller is told", async () => {
      const db = await fixture();
      let hooked = false;
      // BEGIN and COMMIT are pipelined with the work's statements: the failure must still surface.
      const outcome = db.transaction(async (tx) => {
        tx.afterCommit(() => (hooked = true));
        tx.notifyNodes("changes", "1");
        await sqlRun(tx, sql`INSERT INTO t (n) VALUES (1)`);
        await sqlRun(tx, sql`INSERT INTO t (n) VALUES (1)`).catch(() => undefined);
        return "done";
      });
      await expect(outcome).rejects.toThrow();
      expect(await rows(db)).toEqual([]);
      expect(hooked).toBe(false);
      // The connection went back to the pool usable: the next transaction commits.
      for (let i = 0; i < 6; i++) await db.transaction((tx) => sqlRun(tx, sql`INSERT INTO t (n) VALUES (${10 + i})`));
      expect(await rows(db)).toEqual([10, 11, 12, 13, 14, 15]);
      await db.close();
    });

    test("reads sent together in a transaction (pipelined) each get their own rows", async () => {
      const db = await fixture();
      const answers = await db.transaction(async (tx) => {
        await sqlRun(tx, sql`INSERT INTO t (n) VALUES (1), (2), (3)`);
        return await Promise.all(
          [1, 2, 3].map(async (n) => (await sqlAll<{ n: number }>(tx, sql`SELECT n FROM t WHERE n = ${n}`))[0]?.n),
        );
      });
      expect(answers).toEqual([1, 2, 3]);
      await db.close();
    });

    test("a database that does not sort text byte by byte is refused, naming the collation to use", async () => {
      const url = new URL(await postgresDatabase());
      const name = `${url.pathname.slice(1)}_icu`;
      const server = new SQL(url.toString().replace(/\/[^/]+$/, "/postgres"), { max: 1 });
      await server.unsafe(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C'`);
      await server.close();
      url.pathname = `/${name}`;
      await expect(openPostgresStore(url.toString())).rejects.toThrow(/collation.*LOCALE 'C.UTF-8'/s);
    });
  });
