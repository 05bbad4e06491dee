import { describe, expect, test } from "bun:test";
import { JobStore, type JobOutcome, type NewJobRow } from "../../src/delivery/job-store";
import type { Job } from "../../src/delivery/types";
import type { DbOrTx, Tx } from "../../src/db/client";
import { DestinationStore } from "../../src/delivery/destinations";
import { RUNNING_JOB } from "../../src/delivery/schema";
import { describeOnSqlite, rowsOf, writeRows } from "../support/store";
import { memoryDb, unitDb, unitDbPerTest } from "../support/unit-db";

const T0 = 1_700_000_000_000;
const KINDS = JSON.stringify(["webhook"]);
const NODE = "node-a";

/** An outcome for a claimed job, as the engine records it. */
const outcome = (job: Job, over: Partial<JobOutcome> = {}): JobOutcome => ({
  id: job.id,
  attempts: job.attempts,
  status: "succeeded",
  runAt: null,
  error: null,
  httpStatus: 200,
  addFailure: false,
  at: T0 + 5,
  orderingKey: job.orderingKey,
  ...over,
});

const database = unitDbPerTest();

/**
 * The store's methods on a database of the suite's store, with the handles filled in: reads on the
 * database, writes each in a transaction.
 */
async function fixture() {
  const db = await database();
  const jobs = new JobStore();
  const write =
    <A extends unknown[], R>(f: (tx: Tx, ...a: A) => Promise<R>) =>
    (...a: A) =>
      db.transaction((tx) => f.call(jobs, tx, ...a));
  const read =
    <A extends unknown[], R>(f: (db: DbOrTx, ...a: A) => Promise<R>) =>
    (...a: A) =>
      f.call(jobs, db, ...a);
  /** A claim here always gets its turn (null is another node holding the destination, on PostgreSQL). */
  const turn = (got: Job[] | null) => {
    if (!got) throw new Error("the destination's claim turn was refused");
    return got;
  };
  const claimAs = (owner: string, destination = "d", now = T0, wanted = 100, limit = 100, kinds = KINDS) =>
    db.transaction(async (tx) =>
      turn(
        await jobs.claim(tx, { destination, kindsJson: kinds, now, leaseUntil: now + 30_000, owner, wanted, limit }),
      ),
    );
  const store = {
    insert: write(jobs.insert),
    insertMany: write(jobs.insertMany),
    claim: (destination = "d", now = T0, wanted = 100, limit = 100, kinds = KINDS) =>
      claimAs(NODE, destination, now, wanted, limit, kinds),
    claimAs,
    record: write(jobs.record),
    renew: write(jobs.renew),
    release: write(jobs.release),
    cancel: write(jobs.cancel),
    releaseOwn: write(jobs.releaseOwn),
    releaseExpired: write(jobs.releaseExpired),
    get: read(jobs.get),
    nextDueAt: read(jobs.nextDueAt),
    count: read(jobs.count),
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
        payload: { n: ++n },
        maxAttempts: 5,
        runAt: T0,
        deliveryId: `dlv-${n}`,
        redeliveryOf: null,
        ...over,
      },
      T0,
    );
  const strict = (key: string) =>
    db.transaction((tx) => new DestinationStore().configure(tx, key, { strictOrder: true }));
  /** What a claim would take now (claimed and handed back, so nothing changes). */
  const due = async (destination = "d", now = T0, kinds = KINDS) => {
    const ids = await db.transaction(async (tx) => {
      const got = turn(
        await jobs.claim(tx, {
          destination,
          kindsJson: kinds,
          now,
          leaseUntil: now + 1,
          owner: "probe",
          wanted: 100,
          limit: 100,
        }),
      );
      await jobs.release(
        tx,
        "probe",
        got.map((j) => j.id),
        now,
      );
      return got.map((j) => j.id);
    });
    return ids;
  };
  return { db, store, add, strict, due };
}

describe("JobStore: enqueue", () => {
  test("a job is stored pending, unblocked, with its payload, and its destination row is created", async () => {
    const { db, store, add } = await fixture();
    const id = await add({ destination: "new-dest", payload: { hello: "wörld" } });
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
    expect(
      await rowsOf(
        db,
        "SELECT key, CASE WHEN strict_order THEN 1 ELSE 0 END AS strict_order FROM delivery_destinations",
      ),
    ).toEqual([{ key: "new-dest", strict_order: 0 }]);
    expect(await store.get(id + 1)).toBeNull();
  });

  test("on a strict-order destination a job waits (blocked) behind an active job of its key; other keys do not", async () => {
    const { store, add, strict } = await fixture();
    await strict("d");
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
    const { store, add } = await fixture();
    await add({ orderingKey: "k" });
    expect((await store.get(await add({ orderingKey: "k" })))!.blocked).toBe(false);
  });
});

describe("JobStore: a fan-out in one insert", () => {
  test("insertMany stores every job with its own destination; ids come back in the order given", async () => {
    const { db, store, strict } = await fixture();
    await strict("s");
    const row = (destination: string, orderingKey: string | null, n: number): NewJobRow => ({
      kind: "webhook",
      destination,
      orderingKey,
      payload: { n },
      maxAttempts: 3,
      runAt: T0,
      deliveryId: `dlv-${n}`,
      redeliveryOf: null,
    });
    const { ids } = await store.insertMany(
      [row("a", null, 1), row("s", "k", 2), row("b", null, 3), row("s", "k", 4)],
      T0,
    );
    expect(ids).toHaveLength(4);
    const jobs = await Promise.all(ids.map(async (id) => (await store.get(id))!));
    expect(jobs.map((j) => [j.destination, j.payload, j.deliveryId, j.blocked])).toEqual([
      ["a", { n: 1 }, "dlv-1", false],
      ["s", { n: 2 }, "dlv-2", false],
      ["b", { n: 3 }, "dlv-3", false],
      // Behind the batch's own earlier job of its key.
      ["s", { n: 4 }, "dlv-4", true],
    ]);
    expect(await rowsOf(db, "SELECT key FROM delivery_destinations ORDER BY key")).toEqual([
      { key: "a" },
      { key: "b" },
      { key: "s" },
    ]);
  });
});

describe("JobStore: claims are leases", () => {
  test("a claim leases the destination's due, unblocked jobs of the kinds asked, by due time and id", async () => {
    const { store, add, strict, due } = await fixture();
    await strict("d");
    const later = await add({ runAt: T0 + 1000 });
    const first = await add({ runAt: T0 - 10 });
    const second = await add();
    const keyed = await add({ orderingKey: "k" });
    await add({ orderingKey: "k" }); // blocked
    const crm = await add({ kind: "crm-sync" }); // not a kind asked for
    await add({ destination: "other" });
    const third = await add();
    expect(await due()).toEqual([first, second, keyed, third]);
    expect((await store.claim("d", T0, 2)).map((j) => j.id)).toEqual([first, second]);
    expect(await due("d", T0 + 1000)).toContain(later);
    expect(await due("d", T0, JSON.stringify(["webhook", "crm-sync"]))).toContain(crm);
    expect(await store.nextDueAt("d", T0)).toBe(T0 + 1000);
    expect(await store.nextDueAt("other", T0)).toBeNull();
  });

  test("a claim leases a job once: running, one more attempt, lease end and owner set", async () => {
    const { store, add, due } = await fixture();
    const id = await add();
    const [job] = await store.claim();
    expect(job).toMatchObject({
      id,
      status: "running",
      attempts: 1,
      leaseUntil: new Date(T0 + 30_000),
      leaseOwner: NODE,
      payload: { n: 1 },
    });
    expect(await store.claimAs("node-b")).toEqual([]);
    expect(await due()).toEqual([]);
  });

  test("the destination's limit counts every node's leases", async () => {
    const { store, add } = await fixture();
    for (let i = 0; i < 5; i++) await add();
    expect(await store.claimAs("node-a", "d", T0, 100, 3)).toHaveLength(3);
    expect(await store.claimAs("node-b", "d", T0, 100, 3)).toEqual([]);
    expect(await store.claimAs("node-b", "d", T0, 100, 4)).toHaveLength(1);
  });

  test("outcomes are recorded in one batch; a stale one (lease lost, other node, older attempt) changes nothing", async () => {
    const { store, add } = await fixture();
    const [a, b, c] = [await add(), await add(), await add()];
    const [ja, jb, jc] = await store.claim();
    expect([ja!.id, jb!.id, jc!.id]).toEqual([a, b, c]);
    const changed = await store.record(
      [
        outcome(ja!, { status: "failed", error: "HTTP 500", httpStatus: 500, addFailure: true }),
        outcome(jb!, { status: "pending", runAt: T0 + 60_000, error: "timeout", httpStatus: null, addFailure: true }),
        outcome(jc!, { attempts: 7 }), // not the attempt it holds
      ],
      NODE,
    );
    expect(changed.sort()).toEqual([a, b]);
    expect(await store.get(a)).toMatchObject({
      status: "failed",
      lastError: "HTTP 500",
      lastStatus: 500,
      failedAttempts: 1,
      leaseUntil: null,
      leaseOwner: null,
      finishedAt: new Date(T0 + 5),
    });
    expect(await store.get(b)).toMatchObject({
      status: "pending",
      runAt: new Date(T0 + 60_000),
      lastError: "timeout",
      failedAttempts: 1,
      attempts: 1,
      finishedAt: null,
    });
    expect((await store.get(c))!.status).toBe("running");
    expect(await store.record([outcome(jc!)], "node-b")).toEqual([]); // not its lease
    expect(await store.record([outcome(ja!, { status: "succeeded" })], NODE)).toEqual([]); // no longer running
    expect((await store.get(a))!.status).toBe("failed");
  });
});

describeOnSqlite("EXPLAIN QUERY PLAN is SQLite's", "JobStore: a claim's cost does not grow with the backlog", () => {
  test("the destination's leases are counted from the small index of running jobs, not the active jobs' index", () => {
    const plan = memoryDb()
      .$client.query<{ detail: string }, []>(
        `EXPLAIN QUERY PLAN SELECT COUNT(*) FROM delivery_jobs WHERE destination = 'd' AND ${RUNNING_JOB}`,
      )
      .all()
      .map((r) => r.detail)
      .join("\n");
    // Through delivery_jobs_active_idx SQLite walked every pending job of the destination on each claim.
    expect(plan).toContain("COVERING INDEX delivery_jobs_running_idx");
  });
});

describe("JobStore: FIFO per ordering key", () => {
  test("jobs of one key run one at a time in id order: each becomes due only when the one before it finished", async () => {
    const { store, add, strict, due } = await fixture();
    await strict("d");
    const ids = [await add({ orderingKey: "k" }), await add({ orderingKey: "k" }), await add({ orderingKey: "k" })];
    const order: number[] = [];
    for (let i = 0; i < 3; i++) {
      const claimed = await store.claim();
      expect(claimed).toHaveLength(1);
      expect(await due()).toEqual([]); // nothing of this key while one is leased
      expect(await store.claimAs("node-b")).toEqual([]);
      order.push(claimed[0]!.id);
      await store.record([outcome(claimed[0]!, { status: i === 1 ? "failed" : "succeeded" })], NODE);
    }
    expect(order).toEqual(ids);
  });

  test("a retry keeps its place: the jobs behind it stay blocked while it waits", async () => {
    const { store, add, strict, due } = await fixture();
    await strict("d");
    const head = await add({ orderingKey: "k" });
    const next = await add({ orderingKey: "k" });
    const [job] = await store.claim();
    await store.record([outcome(job!, { status: "pending", runAt: T0 + 60_000, addFailure: true })], NODE);
    expect(await due("d", T0 + 30_000)).toEqual([]);
    expect((await store.get(next))!.blocked).toBe(true);
    expect(await due("d", T0 + 60_000)).toEqual([head]);
  });

  test("an expired lease keeps the key's place: the job is the next one claimed, by any node", async () => {
    const { store, add, strict } = await fixture();
    await strict("d");
    const head = await add({ orderingKey: "k" });
    await add({ orderingKey: "k" });
    await store.claim();
    expect(await store.releaseExpired(T0 + 30_001)).toBe(1);
    expect((await store.claimAs("node-b", "d", T0 + 30_001)).map((j) => [j.id, j.attempts])).toEqual([[head, 2]]);
  });

  test("cancelling the waiting head unblocks the next job of the key; a running job cannot be cancelled", async () => {
    const { store, add, strict, due } = await fixture();
    await strict("d");
    const head = await add({ orderingKey: "k" });
    const next = await add({ orderingKey: "k" });
    expect(await store.cancel(head, T0)).toEqual({ destination: "d" });
    expect((await store.get(head))!.status).toBe("cancelled");
    expect(await due()).toEqual([next]);
    await store.claim();
    expect(await store.cancel(next, T0)).toBeNull();
    expect((await store.get(next))!.status).toBe("running");
  });
});

describe("JobStore: leases and recovery", () => {
  test("expired leases go back to pending for any node; live and renewed leases stay", async () => {
    const { store, add } = await fixture();
    const [expired, renewed, live] = [await add(), await add(), await add()];
    await store.claimAs(NODE, "d", T0, 2); // expired, renewed: lease until T0 + 30 s
    await store.claimAs("node-b", "d", T0 + 20_000); // live: until T0 + 50 s
    expect(await store.renew(NODE, [renewed], T0 + 90_000)).toBe(1);
    expect(await store.renew("node-b", [expired], T0 + 90_000)).toBe(0); // not its lease
    expect(await store.releaseExpired(T0 + 40_000)).toBe(1);
    expect(await Promise.all([expired, renewed, live].map(async (id) => (await store.get(id))!.status))).toEqual([
      "pending",
      "running",
      "running",
    ]);
    expect(await store.get(expired)).toMatchObject({ leaseUntil: null, leaseOwner: null, attempts: 1 });
  });

  test("at start a node takes back its own leases (and ownerless ones), not other nodes'; counts follow", async () => {
    const { db, store, add } = await fixture();
    const [mine, theirs, ownerless] = [await add(), await add(), await add()];
    await store.claimAs(NODE, "d", T0, 1);
    await store.claimAs("node-b", "d", T0, 1);
    await writeRows(
      db,
      "UPDATE delivery_jobs SET status = 'running', attempts = 1, lease_until = ? WHERE id = ?",
      T0 + 60_000,
      ownerless,
    );
    expect([await store.count("pending"), await store.count("running")]).toEqual([0, 3]);
    expect(await store.releaseOwn(NODE, T0)).toBe(2);
    expect((await store.get(mine))!.status).toBe("pending");
    expect((await store.get(ownerless))!.status).toBe("pending");
    expect((await store.get(theirs))!.status).toBe("running");
    expect([await store.count("pending"), await store.count("running"), await store.count("failed")]).toEqual([
      2, 1, 0,
    ]);
  });

  test("release hands back claimed, unsent jobs with the claim's attempt taken back", async () => {
    const { store, add } = await fixture();
    const id = await add();
    await store.claim();
    expect(await store.release("node-b", [id], T0)).toBe(0);
    expect(await store.release(NODE, [id], T0)).toBe(1);
    expect(await store.get(id)).toMatchObject({ status: "pending", attempts: 0, leaseOwner: null });
  });
});

describe("JobStore: a job queued while its key's active job finishes (on the suite's store)", () => {
  test("is not left blocked: the finish is recorded before the insert reads, or the head is unblocked after it", async () => {
    const db = await unitDb();
    const jobs = new JobStore();
    const job = (n: number): NewJobRow => ({
      kind: "webhook",
      destination: "d",
      orderingKey: "person-1",
      payload: { n },
      maxAttempts: 5,
      runAt: T0,
      deliveryId: `dlv-${n}`,
      redeliveryOf: null,
    });
    await db.transaction(async (tx) => {
      await new DestinationStore().configure(tx, "d", { strictOrder: true });
      await jobs.insert(tx, job(1), T0);
    });
    const [first] = (await db.transaction((tx) =>
      jobs.claim(tx, {
        destination: "d",
        kindsJson: KINDS,
        now: T0,
        leaseUntil: T0 + 30_000,
        owner: NODE,
        wanted: 1,
        limit: 1,
      }),
    ))!;
    // The finish is recorded (and the key's next job unblocked) in a transaction still open while the
    // next job is queued from another.
    let commit!: () => void;
    const open = new Promise<void>((resolve) => (commit = resolve));
    let recorded!: () => void;
    const recording = new Promise<void>((resolve) => (recorded = resolve));
    const finishing = db.transaction(async (tx) => {
      await jobs.record(tx, [outcome(first!)], NODE);
      recorded();
      await open;
    });
    await recording;
    const queueing = db.transaction((tx) => jobs.insert(tx, job(2), T0 + 1));
    // What the engine does once an insert that blocked a key has committed (where transactions interleave):
    // the key's head is looked at again, waiting for a finish in progress.
    const unblocking = queueing.then(() => db.transaction((tx) => jobs.unblockHead(tx, "person-1")));
    await Bun.sleep(200);
    commit();
    await finishing;
    const second = await queueing;
    await unblocking;
    expect((await jobs.get(db, first!.id))?.status).toBe("succeeded");
    expect((await jobs.get(db, second))?.blocked).toBe(false);
    await db.close();
  });
});
