import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { AsyncLocalStorage } from "node:async_hooks";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { openDatabase, sqlAll, sqlRun, type Db, type Tx } from "../../src/db/client";
import { GroupCommit, groupCommitted } from "../../src/db/group-commit";
import { tempDir } from "../support/server";

const dir = tempDir("switchboard-group-commit-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A database file with the writer's connection, and a second connection that sees only committed rows. */
function fixture(maxBatch?: number) {
  const path = join(dir, `${++files}.db`);
  const db: Db = openDatabase(path);
  db.$client.run("CREATE TABLE t (n INTEGER PRIMARY KEY)");
  const reader = new Database(path, { readonly: true });
  const committed = () =>
    reader
      .query<{ n: number }, []>("SELECT n FROM t ORDER BY n")
      .all()
      .map((r) => r.n);
  return { db, writes: new GroupCommit(db, maxBatch), committed };
}
const insert = (tx: Tx, n: number) => sqlRun(tx, sql`INSERT INTO t (n) VALUES (${n})`);

describe("group commit", () => {
  test("writes that arrive together share one transaction; each caller gets its own result", async () => {
    const { writes, committed } = fixture();
    // Inside the batch, the rows of the writes before are not committed yet: one transaction.
    const seenDuring: number[][] = [];
    const results = await Promise.all(
      [1, 2, 3].map((n) =>
        writes.run(async (tx) => {
          seenDuring.push(committed());
          await insert(tx, n);
          return n * 10;
        }),
      ),
    );
    expect(results).toEqual([10, 20, 30]);
    expect(seenDuring).toEqual([[], [], []]);
    expect(committed()).toEqual([1, 2, 3]);
  });

  test("each caller is answered only after its rows are committed (visible to another connection)", async () => {
    const { writes, committed } = fixture();
    const seenOnAnswer = await Promise.all(
      [1, 2].map((n) => writes.run((tx) => insert(tx, n)).then(() => committed())),
    );
    expect(seenOnAnswer).toEqual([
      [1, 2],
      [1, 2],
    ]);
  });

  test("a failing write rolls back alone: its caller gets its error, its neighbours commit", async () => {
    const { writes, committed } = fixture();
    const boom = new Error("refused");
    const outcomes = await Promise.allSettled([
      writes.run((tx) => insert(tx, 1)),
      writes.run(async (tx) => {
        await insert(tx, 2); // written, then undone with its savepoint
        throw boom;
      }),
      writes.run((tx) => insert(tx, 1)), // a constraint error inside SQLite
      writes.run(async (tx) => (await insert(tx, 3), "ok")),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBe(boom);
    expect(String(((outcomes[2] as PromiseRejectedResult).reason as Error).cause)).toMatch(/UNIQUE constraint failed/);
    expect((outcomes[3] as PromiseFulfilledResult<string>).value).toBe("ok");
    expect(committed()).toEqual([1, 3]);
  });

  test("a batch holds at most maxBatch writes; the rest commit in the next transaction", async () => {
    const { writes, committed } = fixture(2);
    const seenDuring: number[][] = [];
    await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        writes.run(async (tx) => {
          seenDuring.push(committed());
          await insert(tx, n);
        }),
      ),
    );
    expect(seenDuring).toEqual([[], [], [1, 2], [1, 2], [1, 2, 3, 4]]);
    expect(committed()).toEqual([1, 2, 3, 4, 5]);
  });

  test("writes queued after a batch began form a new one (nobody waits forever)", async () => {
    const { writes, committed } = fixture();
    await writes.run((tx) => insert(tx, 1));
    await writes.run((tx) => insert(tx, 2));
    expect(committed()).toEqual([1, 2]);
  });

  test("each write runs in its caller's async context", async () => {
    const { writes } = fixture();
    const request = new AsyncLocalStorage<string>();
    const seen = await Promise.all(
      ["a", "b"].map((id) => request.run(id, () => writes.run(async () => request.getStore()))),
    );
    expect(seen).toEqual(["a", "b"]);
  });

  test("a group-committed store: its transactions are the group commit's, its reads the store's", async () => {
    const { db, committed } = fixture();
    const writes = new GroupCommit(db);
    const store = groupCommitted(db, writes);
    const seenDuring: number[][] = [];
    await Promise.all(
      [1, 2, 3].map((n) =>
        store.transaction(async (tx) => {
          seenDuring.push(committed());
          await insert(tx, n);
        }),
      ),
    );
    expect(seenDuring).toEqual([[], [], []]);
    expect(writes.counts).toEqual({ writes: 3, transactions: 1 });
    expect(await sqlAll(store, sql`SELECT n FROM t ORDER BY n`)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(store.path).toBe(db.path);
  });
});
