import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { openDatabase, sqlRun } from "../../src/db/client";
import { BUN, MAIN, ServerProcess } from "../support/process";
import { createToken, setupAdmin, tempDir } from "../support/server";
import { describeOnSqlite, missingUsers } from "../support/store";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const MiB = 1024 * 1024;
const bytes = (path: string) => (existsSync(path) ? statSync(path).size : 0);

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(20);
  }
}

describeOnSqlite("WAL checkpoints are SQLite's (PostgreSQL has none to move)", "WAL checkpoints", () => {
  test("run on a worker thread: the writer's automatic checkpoint is off, the file gets the WAL", async () => {
    const dir = tempDir("switchboard-wal-");
    dirs.push(dir);
    const path = join(dir, "test.db");
    const db = openDatabase(path);
    const autocheckpoint = () =>
      db.$client.query<{ wal_autocheckpoint: number }, []>("PRAGMA wal_autocheckpoint").get()!.wal_autocheckpoint;
    db.$client.run("CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL)");
    let rows = 0;
    const write = async () => {
      await db.transaction((tx) => sqlRun(tx, sql`INSERT INTO blobs (b) VALUES (randomblob(65536))`));
      rows++;
      await Bun.sleep(1);
    };
    // SQLite's own checkpoint until the worker answers; then none on the write connection.
    expect(autocheckpoint()).toBe(1000);
    const deadline = Date.now() + 20_000;
    while (autocheckpoint() !== 0 && Date.now() < deadline) await write();
    expect(autocheckpoint()).toBe(0);

    // 40 MiB more in 640 commits: only a checkpoint writes the database file, and the WAL is reused.
    const fileBefore = bytes(path);
    for (let i = 0; i < 640; i++) await write();
    await until("the file holds what was committed", () => bytes(path) >= fileBefore + 40 * MiB);
    expect(bytes(`${path}-wal`)).toBeLessThan(40 * MiB);
    expect(autocheckpoint()).toBe(0);

    // A clean close checkpoints everything and removes the WAL; every row is there.
    await db.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const check = new Database(path, { readonly: true });
    try {
      expect(check.query<{ n: number }, []>("SELECT count(*) AS n FROM blobs").get()!.n).toBe(rows);
    } finally {
      check.close();
    }
  }, 60_000);

  test("a server killed with -9 while the worker checkpoints loses no answered write", async () => {
    const dataDir = tempDir("switchboard-wal-crash-");
    dirs.push(dataDir);
    const server = await ServerProcess.start([BUN, MAIN, "serve", "--port", "0", "--data-dir", dataDir]);
    try {
      const token = await createToken(await setupAdmin(server));
      const answered: number[] = [];
      let moved = -1;
      let stop = false;
      const writer = async (n: number) => {
        for (let i = 0; !stop; i++) {
          const res = await fetch(`${server.url}/api/v1/users`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ email: `wal-${n}-${i}@example.com` }),
          }).catch(() => null);
          if (res?.status !== 201 || stop) {
            if (!stop) console.error(res?.status, await res?.text());
            return;
          }
          answered.push((await res.json()).id);
          if (moved < 0 && server.logs.some((l) => l.msg === "wal checkpoints moved to a worker thread"))
            moved = answered.length;
          // Killed mid-run, well after the worker took over.
          if (moved >= 0 && answered.length >= moved + 300) {
            stop = true;
            server.proc.kill("SIGKILL");
          }
        }
      };
      await Promise.all([1, 2, 3, 4].map(writer));
      expect(stop).toBe(true); // the writes went on until the kill
      await server.proc.exited;
      const db = new Database(join(dataDir, "switchboard.db"));
      try {
        expect(db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()!.integrity_check).toBe("ok");
      } finally {
        db.close();
      }
      expect(missingUsers(dataDir, answered)).toEqual([]);
    } finally {
      await server.kill();
    }
  }, 90_000);
});
