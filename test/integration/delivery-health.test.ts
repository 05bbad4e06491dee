import { afterEach, describe, expect, test } from "bun:test";
import { SLOW_DOWN_MS } from "../../src/delivery/retry-policy";
import type { Job } from "../../src/delivery/types";
import { postTo, startEngine, type EngineFixture } from "../support/delivery";
import { eventually, startReceiver, type Receiver, type Script } from "../support/receiver";

let fx: EngineFixture | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await fx?.close();
  await receiver?.stop();
  fx = receiver = undefined;
});

const fast = { baseMs: 20, factor: 2, maxMs: 200, jitter: 0 };

/** One job to destination "d" answered by `script`; resolves once its first attempt is recorded. */
async function oneAttempt(script: Script, handler: Parameters<typeof postTo>[1] = {}): Promise<Job> {
  receiver = startReceiver(script);
  fx = await startEngine();
  const { db, engine } = fx;
  engine.register("test", postTo(receiver.url, handler));
  const { id } = await db.transaction(async (tx) =>
    engine.enqueue(tx, { kind: "test", destination: "d", payload: {} }),
  );
  await eventually(async () => {
    const job = (await engine.getJob(id))!;
    return job.attempts === 1 && job.status !== "running";
  });
  return (await engine.getJob(id))!;
}

const delayOf = (job: Job) => job.runAt.getTime() - job.updatedAt.getTime();

describe("retries and destination health", () => {
  test("a failure is retried after the scheduled backoff", async () => {
    const job = await oneAttempt(() => ({ status: 500 }), {
      retrySchedule: { baseMs: 45_000, factor: 2, maxMs: 600_000, jitter: 0 },
    });
    expect(job).toMatchObject({ status: "pending", failedAttempts: 1, lastError: "HTTP 500", lastStatus: 500 });
    expect(delayOf(job)).toBe(45_000);
    expect(await fx!.engine.getDestination("d")).toMatchObject({ consecutiveFailures: 1, lastError: "HTTP 500" });
    expect((await fx!.engine.getDestination("d"))!.failingSince).not.toBeNull();
  });

  test("the schedule can vary per destination", async () => {
    const job = await oneAttempt(() => ({ status: 500 }), {
      retrySchedule: (j) => ({ baseMs: j.destination === "d" ? 7_000 : 1, factor: 2, maxMs: 60_000, jitter: 0 }),
    });
    expect(delayOf(job)).toBe(7_000);
  });

  test("a handler that throws is retried like a failure", async () => {
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", {
      facility: "webhook",
      prepare: async () => {
        throw new Error("settings unreadable");
      },
    });
    const { id } = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", payload: {} }),
    );
    await eventually(async () => (await engine.getJob(id))?.failedAttempts === 1);
    expect(await engine.getJob(id)).toMatchObject({
      status: "pending",
      lastError: "the test handler failed: settings unreadable",
    });
  });

  test("Retry-After sets the next run time", async () => {
    const job = await oneAttempt(() => ({ status: 503, headers: { "retry-after": "120" } }));
    expect(delayOf(job)).toBe(120_000);
  });

  test("429 backs off at least a minute", async () => {
    const job = await oneAttempt(() => ({ status: 429, headers: { "retry-after": "2" } }), { retrySchedule: fast });
    expect(delayOf(job)).toBe(SLOW_DOWN_MS);
  });

  test("a timeout backs off at least a minute", async () => {
    const job = await oneAttempt(() => ({ status: 200, delayMs: 2_000 }), {
      retrySchedule: fast,
      spec: { timeoutMs: 100 },
    });
    expect(job.lastError).toContain("timeout");
    expect(delayOf(job)).toBe(SLOW_DOWN_MS);
  });

  test("the last attempt fails the job", async () => {
    receiver = startReceiver(() => ({ status: 500 }));
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url, { retrySchedule: fast }));
    const { id } = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", payload: {} }),
    );
    await eventually(async () => (await engine.getJob(id))?.status === "failed");
    expect(await engine.getJob(id)).toMatchObject({ attempts: 5, failedAttempts: 5, maxAttempts: 5 });
    expect(receiver.requests).toHaveLength(5);
    expect(await engine.countJobs("failed")).toBe(1);
  });

  test("410 disables the destination; its jobs wait until it is re-enabled, then go", async () => {
    let gone = true;
    receiver = startReceiver(() => ({ status: gone ? 410 : 200 }));
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    const first = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", payload: {} }),
    );
    await eventually(async () => (await engine.getDestination("d"))?.disabledAt != null);
    const second = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", payload: {} }),
    );
    await Bun.sleep(200);
    expect(receiver.requests).toHaveLength(1);
    expect((await engine.getDestination("d"))!.disabledReason).toContain("410");
    expect(await engine.getJob(first.id)).toMatchObject({ status: "pending", failedAttempts: 0 });
    gone = false;
    await engine.enableDestination("d");
    await eventually(async () => (await engine.countJobs("succeeded")) === 2);
    expect((await engine.getJob(second.id))!.attempts).toBe(1);
    expect(await engine.getDestination("d")).toMatchObject({ disabledAt: null, consecutiveFailures: 0 });
  });

  test("a destination failing longer than the window is disabled and its jobs held", async () => {
    receiver = startReceiver(() => ({ status: 500 }));
    fx = await startEngine({ autoDisableAfterMs: 150 });
    const { db, engine } = fx;
    engine.register(
      "test",
      postTo(receiver.url, { retrySchedule: { baseMs: 60, factor: 1, maxMs: 60, jitter: 0 }, maxAttempts: 1_000 }),
    );
    const { id } = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", payload: {} }),
    );
    await eventually(async () => (await engine.getDestination("d"))?.disabledAt != null);
    const attempts = receiver.requests.length;
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect((await engine.getDestination("d"))!.disabledReason).toContain("without a success");
    await Bun.sleep(300);
    expect(receiver.requests.length).toBe(attempts);
    expect((await engine.getJob(id))!.status).toBe("pending");
  });

  test("a paused destination holds its jobs; enabling it releases them", async () => {
    receiver = startReceiver();
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    await db.transaction(async (tx) => engine.configureDestination(tx, "d", {}));
    await engine.pauseDestination("d", null, "maintenance");
    await db.transaction(async (tx) => {
      for (let i = 0; i < 3; i++) await engine.enqueue(tx, { kind: "test", destination: "d", payload: { i } });
    });
    await Bun.sleep(300);
    expect(receiver.requests).toHaveLength(0);
    await engine.enableDestination("d");
    await receiver.waitFor(3);
    await eventually(async () => (await engine.countJobs("succeeded")) === 3);
  });

  test("enabling a destination while ticks are under way always wakes it (no idle check)", async () => {
    receiver = startReceiver((req) => ({ status: 200, delayMs: JSON.parse(req.body).busy ? 20 : 0 }));
    fx = await startEngine({ idleCheckMs: 600_000 });
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    // Another destination's sends keep the engine ticking: on PostgreSQL a tick may read which
    // destinations are enabled just before an enable commits, and must not swallow its wake-up.
    await db.transaction(async (tx) =>
      engine.enqueueMany(
        tx,
        Array.from({ length: 6_000 }, () => ({ kind: "test", destination: "busy", payload: { busy: true } })),
      ),
    );
    await receiver.waitFor(1);
    for (let round = 0; round < 30; round++) {
      await engine.disableDestination("d", "round");
      const { id } = await db.transaction(async (tx) =>
        engine.enqueue(tx, { kind: "test", destination: "d", payload: { round } }),
      );
      await engine.enableDestination("d");
      await eventually(async () => (await engine.getJob(id))?.status === "succeeded", 3_000, `round ${round}`);
    }
    expect(await engine.countActive("busy")).toBeGreaterThan(0);
  });

  test("a timed pause ends by itself", async () => {
    receiver = startReceiver();
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", postTo(receiver.url));
    await db.transaction(async (tx) => engine.configureDestination(tx, "d", {}));
    await engine.pauseDestination("d", new Date(Date.now() + 300), "cool down");
    await db.transaction(async (tx) => engine.enqueue(tx, { kind: "test", destination: "d", payload: {} }));
    await receiver.waitFor(1);
    expect(receiver.requests[0]!.at).toBeGreaterThanOrEqual((await engine.getDestination("d"))!.pausedUntil!.getTime());
  });
});

describe("handler classification", () => {
  test("202 'queued' retries without counting as a failure", async () => {
    const job = await oneAttempt(() => ({ status: 202 }), {
      classify: (_job, result) =>
        result.status === 202
          ? { kind: "retry", error: "queued by the provider", delayMs: 5_000, countsAsFailure: false }
          : undefined,
    });
    expect(job).toMatchObject({
      status: "pending",
      attempts: 1,
      failedAttempts: 0,
      lastError: "queued by the provider",
    });
    expect(delayOf(job)).toBe(5_000);
    expect(await fx!.engine.getDestination("d")).toMatchObject({ consecutiveFailures: 0, failingSince: null });
  });

  test("404 can mean done", async () => {
    const job = await oneAttempt(() => ({ status: 404 }), {
      classify: (_job, result, fallback) => (result.status === 404 ? { kind: "success" } : fallback),
    });
    expect(job).toMatchObject({ status: "succeeded", lastStatus: 404 });
  });

  test("401 pauses the destination until it is re-enabled (its key changed)", async () => {
    const job = await oneAttempt(() => ({ status: 401 }), {
      classify: (_job, result) =>
        result.status === 401 ? { kind: "pause", reason: "the API key was refused" } : undefined,
    });
    expect(job).toMatchObject({ status: "pending", failedAttempts: 0 });
    expect(await fx!.engine.getDestination("d")).toMatchObject({
      pauseReason: "the API key was refused",
      pausedUntil: null,
    });
    expect((await fx!.engine.getDestination("d"))!.pausedAt).not.toBeNull();
    await Bun.sleep(200);
    expect(receiver!.requests).toHaveLength(1);
    receiver!.answer(() => ({ status: 200 }));
    await fx!.engine.enableDestination("d");
    await eventually(async () => (await fx!.engine.getJob(job.id))?.status === "succeeded");
  });

  test("an invalid request spec fails the job without sending", async () => {
    fx = await startEngine();
    const { db, engine } = fx;
    engine.register("test", { facility: "webhook", prepare: async () => ({ url: "ftp://example.com/x" }) });
    const { id } = await db.transaction(async (tx) =>
      engine.enqueue(tx, { kind: "test", destination: "d", payload: {} }),
    );
    await eventually(async () => (await engine.getJob(id))?.status === "failed");
    expect((await engine.getJob(id))!.lastError).toContain("invalid request");
  });
});
