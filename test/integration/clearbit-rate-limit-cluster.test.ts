/**
 * One Clearbit rate limit for the whole cluster: nodes sharing a database never send the provider
 * more than the limit in any window together. Two real server processes on one SQLite file (each
 * its own data directory and lock, the database file shared through a symlink; WAL lets both write)
 * against the fake Clearbit; and two limiters on PostgreSQL, whose transactions truly run side by side.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { drizzle } from "drizzle-orm/postgres-js";
import type { Db, Tx } from "../../src/db/client";
import { openPostgres, type PostgresClient } from "../../src/db/pg-client";
import { migratePostgres } from "../../src/db/pg-migrate";
import { RateLimiter } from "../../src/enrichment/rate-limiter";
import { startFakeClearbit } from "../support/fake-clearbit";
import { POSTGRES_TEST_TIMEOUT, postgresDatabase } from "../support/postgres";
import { BUN, MAIN, ServerProcess } from "../support/process";
import { createToken, setupAdmin, tempDir } from "../support/server";
import { maxInWindow } from "../support/rate-window";

setDefaultTimeout(POSTGRES_TEST_TIMEOUT + 60_000);

/** A JSON call to a node's REST API; the status. */
async function call(base: string, token: string, method: string, path: string, body: unknown): Promise<number> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

const cleanUp: (() => unknown)[] = [];
afterAll(async () => {
  for (const step of cleanUp.reverse()) await step();
});

describe("the Clearbit rate limit across nodes", () => {
  test("two server processes on one SQLite file send at most the limit in any 60 s window together", async () => {
    const LIMIT = 60; // one a second: two nodes each holding it alone would send two a second
    const RUN_MS = 40_000; // long enough for two separate limits to exceed LIMIT (after 30 s)
    const fake = startFakeClearbit();
    cleanUp.push(() => fake.stop());
    const [dirA, dirB] = [tempDir("switchboard-node-a-"), tempDir("switchboard-node-b-")];
    cleanUp.push(() => {
      for (const dir of [dirA, dirB]) rmSync(dir, { recursive: true, force: true });
    });
    const serve = (dir: string) => ServerProcess.start([BUN, MAIN, "serve", "--port", "0", "--data-dir", dir]);

    const a = await serve(dirA);
    cleanUp.push(() => a.kill());
    const token = await createToken(await setupAdmin(a));
    const saved = await call(a.url, token, "PUT", "/integrations/clearbit", {
      enabled: true,
      api_key: fake.key,
      person_url: fake.url,
      company_url: fake.url,
      stream_url: fake.streamUrl,
      rate_limit_per_minute: LIMIT,
    });
    expect(saved).toBe(200);
    // Node B: its own data directory (and lock), the same database file and key.
    symlinkSync(join(dirA, "switchboard.db"), join(dirB, "switchboard.db"));
    copyFileSync(join(dirA, "secret.key"), join(dirB, "secret.key"));
    const b = await serve(dirB);
    cleanUp.push(() => b.kill());

    // Each node gets half of the people, so each node's delivery engine has lookups to send.
    for (let i = 0; i < 100; i++) {
      const node = i % 2 ? b : a;
      expect(await call(node.url, token, "POST", "/users", { email: `p${i}@acme${i}.com` })).toBe(201);
    }
    await Bun.sleep(RUN_MS);
    const lookups = fake.calls.filter((c) => c.path === "/v2/combined/find").map((c) => c.at);
    expect(maxInWindow(lookups, 60_000)).toBeLessThanOrEqual(LIMIT);
    // Paced at the limit, not starved: about one a second.
    expect(lookups.length).toBeGreaterThanOrEqual(RUN_MS / 1000 / 2);
    expect(fake.calls.every((c) => c.status === 200)).toBe(true);
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
  });

  test("two limiters on PostgreSQL, each with its own connections, share one limit", async () => {
    const url = await postgresDatabase();
    const clients: PostgresClient[] = [openPostgres(url, { max: 4 }), openPostgres(url, { max: 4 })];
    cleanUp.push(() => Promise.all(clients.map((c) => c.end())));
    await migratePostgres(clients[0]!);
    const limiters = clients.map((client) => new RateLimiter(postgresStore(client), 40, 500));
    const times: number[] = [];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        for (let k = 0; k < 6; k++) {
          await limiters[i % 2]!.take();
          times.push(Date.now());
        }
      }),
    );
    expect(times.length).toBe(120);
    expect(maxInWindow(times, 500)).toBeLessThanOrEqual(40);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    for (const l of limiters) l.close();
  });
});

/**
 * The queries and transactions the limiter uses, on PostgreSQL, until the store has its PostgreSQL
 * driver: the SQLite table objects' builders through postgres.js, drizzle's own transactions.
 */
function postgresStore(client: PostgresClient): Db {
  const db = drizzle({ client });
  const store = Object.create(db) as Db;
  Object.assign(store, {
    transaction: <T>(work: (tx: Tx) => Promise<T>) => db.transaction((tx) => work(tx as unknown as Tx)),
  });
  return store as unknown as Db & BunSQLiteDatabase;
}
