import { afterEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { sqlRun } from "../../src/db/client";
import { postTo, startEngine, type EngineFixture } from "../support/delivery";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { describeOnSqlite, rowsOf, writeRows } from "../support/store";

let fx: EngineFixture | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await fx?.close();
  await receiver?.stop();
  fx = receiver = undefined;
});

const fast = { baseMs: 20, factor: 2, maxMs: 200, jitter: 0 };

describe("queue", () => {
  test("a job enqueued in a rolled-back transaction is never sent; a committed one is sent at once", async () => {
    receiver = startReceiver();
    // No polling: the only way the job can go out within the test is the wake-up after commit.
    fx = await startEngine({ idleCheckMs: 600_000 });
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    expect(
      db.transaction(async (tx) => {
        await engine.enqueue(tx, { kind: "test", destination: "d", payload: { n: "rolled back" } });
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    const { id, deliveryId } = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", payload: { n: "kept" } }),
    );
    await receiver.waitFor(1);
    await eventually(async () => (await engine.getJob(id))?.status === "succeeded");
    await Bun.sleep(100);
    expect(receiver.requests.map((r) => JSON.parse(r.body))).toEqual([{ n: "kept" }]);
    expect(receiver.requests[0]!.headers["x-delivery-id"]).toBe(deliveryId);
    expect(await engine.listJobs()).toHaveLength(1);
    expect(await engine.getJob(id)).toMatchObject({ attempts: 1, failedAttempts: 0, lastStatus: 200 });
  });

  test("prepare returning null completes the job without a request", async () => {
    fx = await startEngine();
    const { db, engine } = fx;
    const stored: number[] = [];
    engine.register("noop", {
      facility: "clearbit",
      prepare: async () => null,
      onSuccess: async (_tx, job, result) => void (result === null && stored.push(job.id)),
    });
    const { id } = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "noop", destination: "x", payload: {} }),
    );
    await eventually(async () => (await engine.getJob(id))?.status === "succeeded");
    expect(stored).toEqual([id]);
    expect(await engine.listHttpLog()).toHaveLength(0);
  });

  test("global and per-destination concurrency limits hold", async () => {
    let active = 0;
    let maxActive = 0;
    const perDest = new Map<string, number>();
    let maxPerDest = 0;
    receiver = startReceiver(async (req) => {
      const dest = JSON.parse(req.body).dest as string;
      active++;
      perDest.set(dest, (perDest.get(dest) ?? 0) + 1);
      maxActive = Math.max(maxActive, active);
      maxPerDest = Math.max(maxPerDest, perDest.get(dest)!);
      await Bun.sleep(100);
      active--;
      perDest.set(dest, perDest.get(dest)! - 1);
      return { status: 200 };
    });
    fx = await startEngine({ globalConcurrency: 3, destinationConcurrency: 2 });
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    await db.transaction(async (tx) => {
      for (const dest of ["a", "b"])
        for (let i = 0; i < 8; i++) await engine.enqueue(tx, { kind: "test", destination: dest, payload: { dest } });
    });
    await receiver.waitFor(16);
    expect(maxActive).toBe(3);
    expect(maxPerDest).toBe(2);
  });

  test("a destination's own concurrency setting overrides the default", async () => {
    let active = 0;
    let maxActive = 0;
    receiver = startReceiver(async () => {
      maxActive = Math.max(maxActive, ++active);
      await Bun.sleep(50);
      active--;
      return { status: 200 };
    });
    fx = await startEngine({ destinationConcurrency: 8 });
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    await db.transaction(async (tx) => {
      await engine.configureDestination(tx, "one-at-a-time", { concurrency: 1 });
      for (let i = 0; i < 6; i++) await engine.enqueue(tx, { kind: "test", destination: "one-at-a-time", payload: {} });
    });
    await receiver.waitFor(6);
    expect(maxActive).toBe(1);
  });

  test("strict order: a retrying job holds back later jobs of its ordering key only", async () => {
    let failures = 0;
    let bReceived = 0;
    receiver = startReceiver((req) => {
      const { key, n } = JSON.parse(req.body);
      if (key === "B") bReceived++;
      // A's first job keeps failing until all of B got through (and at least twice): B must not wait for A.
      if (key === "A" && n === 0 && (failures < 2 || bReceived < 5)) {
        failures++;
        return { status: 500 };
      }
      return { status: 200 };
    });
    fx = await startEngine({ destinationConcurrency: 4 });
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url, { retrySchedule: fast, maxAttempts: 1_000 }));
    await db.transaction(async (tx) => {
      await engine.configureDestination(tx, "hook", { strictOrder: true });
      for (let n = 0; n < 5; n++) {
        await engine.enqueue(tx, {
          kind: "test",
          destination: "hook",
          orderingKey: "hook:A",
          payload: { key: "A", n },
        });
        await engine.enqueue(tx, {
          kind: "test",
          destination: "hook",
          orderingKey: "hook:B",
          payload: { key: "B", n },
        });
      }
    });
    await eventually(async () => (await engine.countJobs("succeeded")) === 10);
    const seen = receiver.requests.map((r) => JSON.parse(r.body) as { key: string; n: number });
    const order = (key: string) => seen.filter((s) => s.key === key).map((s) => s.n);
    expect(failures).toBeGreaterThanOrEqual(2);
    expect(order("A")).toEqual([...Array(failures + 1).fill(0), 1, 2, 3, 4]);
    expect(order("B")).toEqual([0, 1, 2, 3, 4]);
  });

  test("strict order: once an earlier job has finally failed, later ones proceed", async () => {
    receiver = startReceiver((req) => ({ status: JSON.parse(req.body).n === 0 ? 500 : 200 }));
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url, { retrySchedule: fast, maxAttempts: 2 }));
    const ids = await db.transaction(async (tx) => {
      await engine.configureDestination(tx, "hook", { strictOrder: true });
      const queued: number[] = [];
      for (const n of [0, 1, 2])
        queued.push(
          (await engine.enqueue(tx, { kind: "test", destination: "hook", orderingKey: "k", payload: { n } })).id,
        );
      return queued;
    });
    await eventually(async () => (await engine.getJob(ids[2]!))?.status === "succeeded");
    expect(await engine.getJob(ids[0]!)).toMatchObject({
      status: "failed",
      attempts: 2,
      failedAttempts: 2,
      lastStatus: 500,
    });
    expect(receiver.requests.map((r) => JSON.parse(r.body).n)).toEqual([0, 0, 1, 2]);
  });

  test("jobs left running by a crash are recovered at start", async () => {
    receiver = startReceiver();
    fx = await startEngine({}, false);
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    const { id } = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", payload: {} }),
    );
    await writeRows(
      db,
      "UPDATE delivery_jobs SET status = 'running', attempts = 1, lease_until = ? WHERE id = ?",
      Date.now() + 3_600_000,
      id,
    );
    await engine.start();
    await eventually(async () => (await engine.getJob(id))?.status === "succeeded");
    expect((await engine.getJob(id))!.attempts).toBe(2);
  });

  test("redeliver copies the job with fresh attempts and the same delivery id", async () => {
    receiver = startReceiver();
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    const first = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", payload: { a: 1 } }),
    );
    await eventually(async () => (await engine.getJob(first.id))?.status === "succeeded");
    const again = (await engine.redeliver(first.id))!;
    expect(again.deliveryId).toBe(first.deliveryId);
    await eventually(async () => (await engine.getJob(again.id))?.status === "succeeded");
    expect(await engine.getJob(again.id)).toMatchObject({ redeliveryOf: first.id, attempts: 1, payload: { a: 1 } });
    expect(receiver.requests.map((r) => r.headers["x-delivery-id"])).toEqual([first.deliveryId, first.deliveryId]);
    expect(await engine.redeliver(999_999)).toBeNull();
  });

  test("recoverFailed sends each failed delivery since a time again once (its newest job), as one run", async () => {
    receiver = startReceiver(() => ({ status: 500 }));
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url, { maxAttempts: 1 }));
    const enqueue = (destination: string, n: number) =>
      db.transaction(async (tx) => engine.enqueue(tx, { kind: "test", destination, payload: { n } }));
    const status = async (id: number) => (await engine.getJob(id))?.status;
    const job = async (id: number) => (await engine.getJob(id))!;
    const jobs = [await enqueue("d", 1), await enqueue("d", 2), await enqueue("other", 3)];
    await eventually(async () => (await Promise.all(jobs.map((j) => status(j.id)))).every((s) => s === "failed"));
    // Delivery 2 was already sent again and failed again: it counts once, as its newest job.
    const retried = (await engine.redeliver(jobs[1]!.id))!;
    await eventually(async () => (await status(retried.id)) === "failed");
    const since = new Date(Date.now() - 60_000);
    expect(await engine.countFailedSince("d", "test", since)).toBe(2);
    expect(await engine.countFailedSince("d", "test", new Date(Date.now() + 60_000))).toBe(0);
    expect(await engine.countFailedSince("d", "other-kind", since)).toBe(0);
    receiver.answer(() => ({ status: 200 }));
    const run = await engine.recoverFailed("d", "test", since);
    expect(run.count).toBe(2);
    expect(run.lastId! - run.firstId!).toBe(1);
    expect([(await job(run.firstId!)).redeliveryOf, (await job(run.lastId!)).redeliveryOf]).toEqual([
      jobs[0]!.id,
      retried.id,
    ]);
    await eventually(async () => (await engine.progressOf("d", run.firstId!, run.lastId!)).done === 2);
    expect(await engine.progressOf("d", run.firstId!, run.lastId!)).toEqual({ total: 2, done: 2, failed: 0 });
    expect([(await job(run.firstId!)).deliveryId, (await job(run.lastId!)).deliveryId]).toEqual([
      jobs[0]!.deliveryId,
      jobs[1]!.deliveryId,
    ]);
    expect(await engine.countFailedSince("d", "test", since)).toBe(0);
    expect(await engine.recoverFailed("d", "test", since)).toEqual({ count: 0, firstId: null, lastId: null });
  });

  test("redeliverMany copies a destination's chosen jobs in one go and skips other destinations'", async () => {
    receiver = startReceiver();
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    // One after another: the copies follow the originals' queue order (their ids), which transactions
    // running at once need not take in call order on PostgreSQL.
    const queued: { id: number; deliveryId: string }[] = [];
    for (const [n, destination] of ["d", "d", "other"].entries())
      queued.push(
        await db.transaction(async (tx) => engine.enqueue(tx, { kind: "test", destination, payload: { n } })),
      );
    const [a, b, c] = queued;
    const status = async (id: number) => (await engine.getJob(id))?.status;
    await eventually(async () =>
      (await Promise.all([a, b, c].map((j) => status(j!.id)))).every((s) => s === "succeeded"),
    );
    const ids = await engine.redeliverMany("d", [b!.id, a!.id, c!.id, a!.id, 999_999]);
    const copies = await Promise.all(ids.map(async (id) => (await engine.getJob(id))!));
    expect(copies.map((j) => j.redeliveryOf)).toEqual([a!.id, b!.id]);
    expect(copies.map((j) => j.deliveryId)).toEqual([a!.deliveryId, b!.deliveryId]);
    await eventually(async () => (await Promise.all(ids.map(status))).every((s) => s === "succeeded"));
  });

  test("attemptsOverTime counts each hour's successes and failures, empty hours included", async () => {
    let n = 0;
    receiver = startReceiver(() => ({ status: n++ % 3 === 0 ? 503 : 200 }));
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url, { maxAttempts: 1 }));
    const jobs: { id: number }[] = [];
    for (const i of [1, 2, 3])
      jobs.push(
        await db.transaction(async (tx) => engine.enqueue(tx, { kind: "test", destination: "d", payload: { i } })),
      );
    const finished = async (id: number) => ["succeeded", "failed"].includes((await engine.getJob(id))!.status);
    await eventually(async () => (await Promise.all(jobs.map((j) => finished(j.id)))).every(Boolean));
    const hour = 3_600_000;
    const buckets = await engine.attemptsOverTime("d", new Date(Date.now() - 23 * hour), hour);
    expect(buckets).toHaveLength(24);
    const sum = (k: "succeeded" | "failed") => buckets.reduce((n, b) => n + b[k], 0);
    expect([sum("succeeded"), sum("failed")]).toEqual([2, 1]);
    // Only the last hour (or two, across an hour's turn) had attempts.
    expect(buckets.slice(0, -2).every((b) => b.succeeded === 0 && b.failed === 0)).toBe(true);
    expect(buckets.at(-1)!.start.getTime() % hour).toBe(0);
  });

  test("a pending job can be cancelled", async () => {
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", postTo("http://127.0.0.1:1"));
    const { id } = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", payload: {}, runAt: new Date(Date.now() + 3_600_000) }),
    );
    expect(await engine.cancel(id)).toBe(true);
    expect((await engine.getJob(id))!.status).toBe("cancelled");
    expect(await engine.cancel(id)).toBe(false);
  });

  test("a job a transaction counted on while it came due is sent once that transaction commits", async () => {
    receiver = startReceiver();
    fx = await startEngine({ idleCheckMs: 600_000 });
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    const dueAt = Date.now() + 300;
    const { id } = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", orderingKey: "k", payload: {}, runAt: new Date(dueAt) }),
    );
    // A CRM update folded into the pending job: on PostgreSQL the job is locked until this commits, and
    // the claim at its due time passes over it.
    await db.transaction(async (tx) => {
      expect(await engine.hasPending(tx, "k", "test")).toBe(true);
      await Bun.sleep(dueAt - Date.now() + 300);
    });
    const committedAt = Date.now();
    await receiver.waitFor(1, 5_000);
    expect(receiver.requests[0]!.at - committedAt).toBeLessThan(2_000);
    await eventually(async () => (await engine.getJob(id))?.status === "succeeded");
  });

  test("onSuccess runs in the completing transaction; if it throws, the job is retried", async () => {
    receiver = startReceiver();
    fx = await startEngine();
    const { db, engine } = fx;
    await writeRows(db, "CREATE TABLE external_ids (job_id INTEGER PRIMARY KEY)");
    let calls = 0;
    engine.register(
      "test",
      postTo(receiver.url, {
        retrySchedule: fast,
        onSuccess: async (tx, job) => {
          await sqlRun(tx, sql`INSERT INTO external_ids (job_id) VALUES (${job.id})`);
          if (++calls === 1) throw new Error("constraint failed");
        },
      }),
    );
    const { id } = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", payload: {} }),
    );
    await eventually(async () => (await engine.getJob(id))?.status === "succeeded");
    expect(calls).toBe(2);
    expect(await rowsOf(db, "SELECT job_id FROM external_ids")).toEqual([{ job_id: id }]);
    expect((await engine.getJob(id))!.attempts).toBe(2);
  });

  test("a destination woken while every send slot is taken is served once a slot frees (no idle check)", async () => {
    receiver = startReceiver((req) => ({ status: 200, delayMs: JSON.parse(req.body).slow ? 600 : 0 }));
    fx = await startEngine({ globalConcurrency: 1, idleCheckMs: 600_000 });
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    // One send slot: a claim takes up to two jobs, one on the wire and one waiting, so no slot is free.
    await db.transaction(async (tx) =>
      engine.enqueueMany(
        tx,
        Array.from({ length: 2 }, (_, n) => ({ kind: "test", destination: "slow", payload: { slow: true, n } })),
      ),
    );
    await receiver.waitFor(1);
    const { id } = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "other", payload: { slow: false } }),
    );
    await eventually(async () => (await engine.getJob(id))?.status === "succeeded", 10_000);
    expect(await engine.countJobs("succeeded")).toBe(3);
  });

  test("a finished send is replaced from the claimed jobs at once, even while the write connection is busy", async () => {
    receiver = startReceiver(() => ({ status: 200, delayMs: 20 }));
    fx = await startEngine({ globalConcurrency: 2 });
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    // A claim takes up to twice the free send slots: 2 on the wire, 2 waiting for a slot.
    await db.transaction(async (tx) =>
      engine.enqueueMany(
        tx,
        Array.from({ length: 4 }, (_, n) => ({ kind: "test", destination: "d", payload: { n } })),
      ),
    );
    await receiver.waitFor(1);
    // Changes being recorded hold the write connection (here: one that waits on purpose).
    let release!: () => void;
    const held = db.transaction(() => new Promise<void>((r) => (release = r)));
    try {
      await receiver.waitFor(4, 5_000);
    } finally {
      release();
      await held;
    }
    await eventually(async () => (await engine.countJobs("succeeded")) === 4);
  });
});

describeOnSqlite("EXPLAIN QUERY PLAN is SQLite's", "claim query plans", () => {
  test("the claim query reads the ready index, not the table", async () => {
    fx = await startEngine({}, false);
    const plan = fx.db.$client
      .query<{ detail: string }, []>(
        `EXPLAIN QUERY PLAN SELECT * FROM delivery_jobs
         WHERE destination = 'd' AND status = 'pending' AND blocked = 0 AND run_at <= 5
           AND kind IN (SELECT value FROM json_each('[]'))
         ORDER BY run_at, id LIMIT 4`,
      )
      .all()
      .map((r) => r.detail)
      .join("\n");
    expect(plan).toContain("USING INDEX delivery_jobs_ready_idx");
    expect(plan).not.toContain("TEMP B-TREE");
    const ordering = fx.db.$client
      .query<{ detail: string }, []>(
        `EXPLAIN QUERY PLAN SELECT 1 FROM delivery_jobs
         WHERE ordering_key = 'k' AND status IN ('pending', 'running') LIMIT 1`,
      )
      .all()
      .map((r) => r.detail)
      .join("\n");
    expect(ordering).toContain("delivery_jobs_ordering_idx");
  });
});
