import { describe, expect, test } from "bun:test";
import { JobStore, type NewJobRow } from "../../src/delivery/job-store";
import type { DbOrTx, Tx } from "../../src/db/client";
import { memoryDb } from "../support/unit-db";

const T0 = 1_700_000_000_000;
const KINDS = JSON.stringify(["webhook"]);

/** The store's methods with the handles filled in: reads on the database, writes each in a transaction. */
function fixture() {
  const db = memoryDb();
  const sqlite = db.$client;
  const jobs = new JobStore();
  const write =
    <A extends unknown[], R>(f: (tx: Tx, ...a: A) => Promise<R>) =>
    (...a: A) =>
      db.transaction((tx) => f.call(jobs, tx, ...a));
  const read =
    <A extends unknown[], R>(f: (db: DbOrTx, ...a: A) => Promise<R>) =>
    (...a: A) =>
      f.call(jobs, db, ...a);
  const store = {
    insert: write(jobs.insert),
    claim: write(jobs.claim),
    finish: write(jobs.finish),
    reschedule: write(jobs.reschedule),
    cancel: write(jobs.cancel),
    recoverAllRunning: write(jobs.recoverAllRunning),
    releaseExpired: write(jobs.releaseExpired),
    get: read(jobs.get),
    dueJobs: read(jobs.dueJobs),
    nextDueAt: read(jobs.nextDueAt),
    count: read(jobs.count),
    pendingPayloads: read(jobs.pendingPayloads),
    countActive: read(jobs.countActive),
    lastId: read(jobs.lastId),
  };
  let n = 0;
  const add = (over: Partial<NewJobRow> = {}) =>
    store.insert(
      {
        kind: "webhook",
        destination: "d",
        orderingKey: null,
        payload: JSON.stringify({ n: ++n }),
        maxAttempts: 5,
        runAt: T0,
        deliveryId: `dlv-${n}`,
        redeliveryOf: null,
        ...over,
      },
      T0,
    );
  const strict = (key: string) =>
    sqlite.run("INSERT INTO delivery_destinations (key, strict_order) VALUES (?, 1)", [key]);
  const due = async (destination = "d", now = T0, kinds = KINDS) =>
    (await store.dueJobs(destination, now, kinds, 100)).map((j) => j.id);
  return { sqlite, store, add, strict, due };
}

describe("JobStore: enqueue", () => {
  test("a job is stored pending, unblocked, with its payload, and its destination row is created", async () => {
    const { sqlite, store, add } = fixture();
    const id = await add({ destination: "new-dest", payload: JSON.stringify({ hello: "wörld" }) });
    expect(await store.get(id)).toMatchObject({
      id,
      kind: "webhook",
      destination: "new-dest",
      status: "pending",
      blocked: false,
      attempts: 0,
      failedAttempts: 0,
      maxAttempts: 5,
      payload: { hello: "wörld" },
      runAt: new Date(T0),
      leaseUntil: null,
      deliveryId: "dlv-1",
    });
    expect(sqlite.query("SELECT key, strict_order FROM delivery_destinations").all()).toEqual([
      { key: "new-dest", strict_order: 0 },
    ]);
    expect(await store.get(id + 1)).toBeNull();
  });

  test("on a strict-order destination a job waits (blocked) behind an active job of its key; other keys do not", async () => {
    const { store, add, strict } = fixture();
    strict("d");
    const a1 = await add({ orderingKey: "user:1" });
    const a2 = await add({ orderingKey: "user:1" });
    const b1 = await add({ orderingKey: "user:2" });
    const none = await add();
    expect(await Promise.all([a1, a2, b1, none].map(async (id) => (await store.get(id))!.blocked))).toEqual([
      false,
      true,
      false,
      false,
    ]);
  });

  test("without strict order, ordering keys never block", async () => {
    const { store, add } = fixture();
    await add({ orderingKey: "k" });
    expect((await store.get(await add({ orderingKey: "k" })))!.blocked).toBe(false);
  });
});

describe("JobStore: due jobs and claims", () => {
  test("due: the pending, unblocked, due jobs of the destination and kinds, by due time, id, up to the limit", async () => {
    const { store, add, strict, due } = fixture();
    strict("d");
    const later = await add({ runAt: T0 + 1000 });
    const first = await add({ runAt: T0 - 10 });
    const second = await add();
    const keyed = await add({ orderingKey: "k" });
    await add({ orderingKey: "k" }); // blocked
    const crm = await add({ kind: "crm-sync" }); // not a kind asked for
    await add({ destination: "other" });
    const third = await add();
    expect(await due()).toEqual([first, second, keyed, third]);
    expect((await store.dueJobs("d", T0, KINDS, 2)).map((j) => j.id)).toEqual([first, second]);
    expect(await due("d", T0 + 1000)).toContain(later);
    expect(await due("d", T0, JSON.stringify(["webhook", "crm-sync"]))).toContain(crm);
    expect(await store.nextDueAt("d", T0)).toBe(T0 + 1000);
    expect(await store.nextDueAt("other", T0)).toBeNull();
  });

  test("a claim leases a pending job once: running, one more attempt, lease set; a second claim gets nothing", async () => {
    const { store, add, due } = fixture();
    const id = await add();
    const job = await store.claim(id, T0 + 30_000, T0 + 1);
    expect(job).toMatchObject({
      id,
      status: "running",
      attempts: 1,
      leaseUntil: new Date(T0 + 30_000),
      payload: { n: 1 },
    });
    expect(await store.claim(id, T0 + 60_000, T0 + 2)).toBeNull();
    expect((await store.get(id))!.leaseUntil).toEqual(new Date(T0 + 30_000));
    expect(await due()).toEqual([]);
  });

  test("finish records the outcome once; a job that is not running is left alone", async () => {
    const { store, add } = fixture();
    const id = await add();
    const job = (await store.claim(id, T0 + 30_000, T0))!;
    await store.finish(job, "failed", "HTTP 500", 500, true, T0 + 5);
    expect(await store.get(id)).toMatchObject({
      status: "failed",
      lastError: "HTTP 500",
      lastStatus: 500,
      failedAttempts: 1,
      leaseUntil: null,
      finishedAt: new Date(T0 + 5),
    });
    await store.finish(job, "succeeded", null, 200, false, T0 + 9);
    expect(await store.get(id)).toMatchObject({ status: "failed", lastStatus: 500, finishedAt: new Date(T0 + 5) });
  });

  test("reschedule puts a running job back to pending at its new time, counting the failure when asked", async () => {
    const { store, add, due } = fixture();
    const id = await add();
    await store.reschedule((await store.claim(id, T0 + 30_000, T0))!, T0 + 60_000, "timeout", null, true, T0);
    expect(await store.get(id)).toMatchObject({
      status: "pending",
      runAt: new Date(T0 + 60_000),
      leaseUntil: null,
      lastError: "timeout",
      failedAttempts: 1,
      attempts: 1,
    });
    await store.reschedule(
      (await store.claim(id, T0 + 90_000, T0 + 60_000))!,
      T0 + 120_000,
      "paused",
      429,
      false,
      T0 + 60_000,
    );
    expect(await store.get(id)).toMatchObject({ failedAttempts: 1, attempts: 2, lastStatus: 429 });
    expect(await due("d", T0 + 119_999)).toEqual([]);
    expect(await due("d", T0 + 120_000)).toEqual([id]);
  });
});

describe("JobStore: FIFO per ordering key", () => {
  test("jobs of one key run one at a time in id order: each becomes due only when the one before it finished", async () => {
    const { store, add, strict, due } = fixture();
    strict("d");
    const ids = [await add({ orderingKey: "k" }), await add({ orderingKey: "k" }), await add({ orderingKey: "k" })];
    const order: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ready = await due();
      expect(ready).toHaveLength(1);
      const job = (await store.claim(ready[0]!, T0 + 30_000, T0))!;
      expect(await due()).toEqual([]); // nothing of this key while one is running
      order.push(job.id);
      await store.finish(job, i === 1 ? "failed" : "succeeded", null, 200, false, T0);
    }
    expect(order).toEqual(ids);
  });

  test("a retry keeps its place: the jobs behind it stay blocked while it waits", async () => {
    const { store, add, strict, due } = fixture();
    strict("d");
    const head = await add({ orderingKey: "k" });
    const next = await add({ orderingKey: "k" });
    await store.reschedule((await store.claim(head, T0 + 30_000, T0))!, T0 + 60_000, "503", 503, true, T0);
    expect(await due("d", T0 + 30_000)).toEqual([]);
    expect((await store.get(next))!.blocked).toBe(true);
    expect(await due("d", T0 + 60_000)).toEqual([head]);
  });

  test("cancelling the waiting head unblocks the next job of the key; a running job cannot be cancelled", async () => {
    const { store, add, strict, due } = fixture();
    strict("d");
    const head = await add({ orderingKey: "k" });
    const next = await add({ orderingKey: "k" });
    expect(await store.cancel(head, T0)).toEqual({ destination: "d" });
    expect((await store.get(head))!.status).toBe("cancelled");
    expect(await due()).toEqual([next]);
    await store.claim(next, T0 + 30_000, T0);
    expect(await store.cancel(next, T0)).toBeNull();
    expect((await store.get(next))!.status).toBe("running");
  });
});

describe("JobStore: leases and recovery", () => {
  test("expired leases go back to pending, except jobs still in flight here; live leases stay", async () => {
    const { store, add } = fixture();
    const [expired, inFlight, live] = [await add(), await add(), await add()];
    await store.claim(expired, T0 + 10, T0);
    await store.claim(inFlight, T0 + 10, T0);
    await store.claim(live, T0 + 1_000, T0);
    expect(await store.releaseExpired(T0 + 500, new Set([inFlight]))).toBe(1);
    expect(await Promise.all([expired, inFlight, live].map(async (id) => (await store.get(id))!.status))).toEqual([
      "pending",
      "running",
      "running",
    ]);
    expect((await store.get(expired))!.leaseUntil).toBeNull();
  });

  test("at start every running job is recovered to pending, and counts follow the statuses", async () => {
    const { store, add } = fixture();
    const a = await add();
    await add();
    await store.claim(a, T0 + 10, T0);
    expect([await store.count("pending"), await store.count("running")]).toEqual([1, 1]);
    expect(await store.recoverAllRunning(T0)).toBe(1);
    expect([await store.count("pending"), await store.count("running"), await store.count("failed")]).toEqual([
      2, 0, 0,
    ]);
  });
});
