import { describe, expect, test } from "bun:test";
import { JobStore, type NewJobRow } from "../../src/delivery/job-store";
import { memoryDb } from "../support/unit-db";

const T0 = 1_700_000_000_000;
const KINDS = JSON.stringify(["webhook"]);

function fixture() {
  const sqlite = memoryDb().$client;
  const store = new JobStore(sqlite);
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
  const due = (destination = "d", now = T0, kinds = KINDS) =>
    store.dueJobs(destination, now, kinds, 100).map((j) => j.id);
  return { sqlite, store, add, strict, due };
}

describe("JobStore: enqueue", () => {
  test("a job is stored pending, unblocked, with its payload, and its destination row is created", () => {
    const { sqlite, store, add } = fixture();
    const id = add({ destination: "new-dest", payload: JSON.stringify({ hello: "wörld" }) });
    expect(store.get(id)).toMatchObject({
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
    expect(store.get(id + 1)).toBeNull();
  });

  test("on a strict-order destination a job waits (blocked) behind an active job of its key; other keys do not", () => {
    const { store, add, strict } = fixture();
    strict("d");
    const a1 = add({ orderingKey: "user:1" });
    const a2 = add({ orderingKey: "user:1" });
    const b1 = add({ orderingKey: "user:2" });
    const none = add();
    expect([a1, a2, b1, none].map((id) => store.get(id)!.blocked)).toEqual([false, true, false, false]);
  });

  test("without strict order, ordering keys never block", () => {
    const { store, add } = fixture();
    add({ orderingKey: "k" });
    expect(store.get(add({ orderingKey: "k" }))!.blocked).toBe(false);
  });
});

describe("JobStore: due jobs and claims", () => {
  test("due: the pending, unblocked, due jobs of the destination and kinds, by due time, id, up to the limit", () => {
    const { store, add, strict, due } = fixture();
    strict("d");
    const later = add({ runAt: T0 + 1000 });
    const first = add({ runAt: T0 - 10 });
    const second = add();
    const keyed = add({ orderingKey: "k" });
    add({ orderingKey: "k" }); // blocked
    const crm = add({ kind: "crm-sync" }); // not a kind asked for
    add({ destination: "other" });
    const third = add();
    expect(due()).toEqual([first, second, keyed, third]);
    expect(store.dueJobs("d", T0, KINDS, 2).map((j) => j.id)).toEqual([first, second]);
    expect(due("d", T0 + 1000)).toContain(later);
    expect(due("d", T0, JSON.stringify(["webhook", "crm-sync"]))).toContain(crm);
    expect(store.nextDueAt("d", T0)).toBe(T0 + 1000);
    expect(store.nextDueAt("other", T0)).toBeNull();
  });

  test("a claim leases a pending job once: running, one more attempt, lease set; a second claim gets nothing", () => {
    const { store, add, due } = fixture();
    const id = add();
    const job = store.claim(id, T0 + 30_000, T0 + 1);
    expect(job).toMatchObject({
      id,
      status: "running",
      attempts: 1,
      leaseUntil: new Date(T0 + 30_000),
      payload: { n: 1 },
    });
    expect(store.claim(id, T0 + 60_000, T0 + 2)).toBeNull();
    expect(store.get(id)!.leaseUntil).toEqual(new Date(T0 + 30_000));
    expect(due()).toEqual([]);
  });

  test("finish records the outcome once; a job that is not running is left alone", () => {
    const { store, add } = fixture();
    const id = add();
    const job = store.claim(id, T0 + 30_000, T0)!;
    store.finish(job, "failed", "HTTP 500", 500, true, T0 + 5);
    expect(store.get(id)).toMatchObject({
      status: "failed",
      lastError: "HTTP 500",
      lastStatus: 500,
      failedAttempts: 1,
      leaseUntil: null,
      finishedAt: new Date(T0 + 5),
    });
    store.finish(job, "succeeded", null, 200, false, T0 + 9);
    expect(store.get(id)).toMatchObject({ status: "failed", lastStatus: 500, finishedAt: new Date(T0 + 5) });
  });

  test("reschedule puts a running job back to pending at its new time, counting the failure when asked", () => {
    const { store, add, due } = fixture();
    const id = add();
    store.reschedule(store.claim(id, T0 + 30_000, T0)!, T0 + 60_000, "timeout", null, true, T0);
    expect(store.get(id)).toMatchObject({
      status: "pending",
      runAt: new Date(T0 + 60_000),
      leaseUntil: null,
      lastError: "timeout",
      failedAttempts: 1,
      attempts: 1,
    });
    store.reschedule(store.claim(id, T0 + 90_000, T0 + 60_000)!, T0 + 120_000, "paused", 429, false, T0 + 60_000);
    expect(store.get(id)).toMatchObject({ failedAttempts: 1, attempts: 2, lastStatus: 429 });
    expect(due("d", T0 + 119_999)).toEqual([]);
    expect(due("d", T0 + 120_000)).toEqual([id]);
  });
});

describe("JobStore: FIFO per ordering key", () => {
  test("jobs of one key run one at a time in id order: each becomes due only when the one before it finished", () => {
    const { store, add, strict, due } = fixture();
    strict("d");
    const ids = [add({ orderingKey: "k" }), add({ orderingKey: "k" }), add({ orderingKey: "k" })];
    const order: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ready = due();
      expect(ready).toHaveLength(1);
      const job = store.claim(ready[0]!, T0 + 30_000, T0)!;
      expect(due()).toEqual([]); // nothing of this key while one is running
      order.push(job.id);
      store.finish(job, i === 1 ? "failed" : "succeeded", null, 200, false, T0);
    }
    expect(order).toEqual(ids);
  });

  test("a retry keeps its place: the jobs behind it stay blocked while it waits", () => {
    const { store, add, strict, due } = fixture();
    strict("d");
    const head = add({ orderingKey: "k" });
    const next = add({ orderingKey: "k" });
    store.reschedule(store.claim(head, T0 + 30_000, T0)!, T0 + 60_000, "503", 503, true, T0);
    expect(due("d", T0 + 30_000)).toEqual([]);
    expect(store.get(next)!.blocked).toBe(true);
    expect(due("d", T0 + 60_000)).toEqual([head]);
  });

  test("cancelling the waiting head unblocks the next job of the key; a running job cannot be cancelled", () => {
    const { store, add, strict, due } = fixture();
    strict("d");
    const head = add({ orderingKey: "k" });
    const next = add({ orderingKey: "k" });
    expect(store.cancel(head, T0)).toEqual({ destination: "d" });
    expect(store.get(head)!.status).toBe("cancelled");
    expect(due()).toEqual([next]);
    store.claim(next, T0 + 30_000, T0);
    expect(store.cancel(next, T0)).toBeNull();
    expect(store.get(next)!.status).toBe("running");
  });
});

describe("JobStore: leases and recovery", () => {
  test("expired leases go back to pending, except jobs still in flight here; live leases stay", () => {
    const { store, add } = fixture();
    const [expired, inFlight, live] = [add(), add(), add()];
    store.claim(expired, T0 + 10, T0);
    store.claim(inFlight, T0 + 10, T0);
    store.claim(live, T0 + 1_000, T0);
    expect(store.releaseExpired(T0 + 500, new Set([inFlight]))).toBe(1);
    expect([expired, inFlight, live].map((id) => store.get(id)!.status)).toEqual(["pending", "running", "running"]);
    expect(store.get(expired)!.leaseUntil).toBeNull();
  });

  test("at start every running job is recovered to pending, and counts follow the statuses", () => {
    const { store, add } = fixture();
    const a = add();
    add();
    store.claim(a, T0 + 10, T0);
    expect([store.count("pending"), store.count("running")]).toEqual([1, 1]);
    expect(store.recoverAllRunning(T0)).toBe(1);
    expect([store.count("pending"), store.count("running"), store.count("failed")]).toEqual([2, 0, 0]);
  });
});
