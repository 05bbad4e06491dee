import { expect, test } from "bun:test";
import { RateLimiter } from "../../src/enrichment/rate-limiter";
import { unitDbPerTest } from "../support/unit-db";
import { maxInWindow } from "../support/rate-window";

/**
 * The grant times are taken when take() resolves, after the transaction's commit: on a loaded
 * machine one grant can resolve tens of milliseconds later than the next. The limiter keeps a
 * window this much wider than the one checked (in production the margin is 1% of a minute).
 */
const MARGIN_MS = 50;

/** A database of the suite's store (the limiter counts its grants there, for every node). */
const database = unitDbPerTest();

/** `takers` concurrent takers spread over the limiters, `each` slots apiece; the grant times. */
async function takeConcurrently(limiters: RateLimiter[], takers: number, each: number): Promise<number[]> {
  const times: number[] = [];
  await Promise.all(
    Array.from({ length: takers }, async (_, i) => {
      for (let k = 0; k < each; k++) {
        await limiters[i % limiters.length]!.take();
        times.push(Date.now());
      }
    }),
  );
  return times;
}

test("concurrent takers never exceed the limit in any window, and keep close to it", async () => {
  const limiter = new RateLimiter(await database(), 50, 500, MARGIN_MS);
  const started = Date.now();
  const times = await takeConcurrently([limiter], 20, 8);
  expect(times.length).toBe(160);
  expect(maxInWindow(times, 500)).toBeLessThanOrEqual(50);
  // 160 slots at 50 per 500 ms take a bit over 1.5 s; generous bound for a noisy machine.
  expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
  expect(await limiter.usedInWindow()).toBeGreaterThan(0);
  limiter.close();
});

test("two limiters on one database share one limit: never more than it together in any window", async () => {
  // (Two processes on one file: test/integration/clearbit-rate-limit-cluster.test.ts.)
  const db = await database();
  // One clock, stopped for the last check: both limiters count the same window.
  let stoppedAt: number | null = null;
  const clock = () => stoppedAt ?? Date.now();
  const limiters = [0, 1].map(() => new RateLimiter(db, 40, 500, MARGIN_MS, clock));
  const started = Date.now();
  const times = await takeConcurrently(limiters, 20, 6);
  expect(times.length).toBe(120);
  expect(maxInWindow(times, 500)).toBeLessThanOrEqual(40);
  // 120 slots at 40 per 500 ms together: over 1 s (two separate limits would take half that).
  expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  stoppedAt = Date.now();
  expect(await limiters[1]!.usedInWindow()).toBe(await limiters[0]!.usedInWindow());
  for (const l of limiters) l.close();
});

test("the provider's remaining budget holds further slots until its reset", async () => {
  const limiter = new RateLimiter(await database(), 1000, 1000);
  limiter.observe(2, 0.4);
  const t0 = Date.now();
  await limiter.take();
  await limiter.take();
  await limiter.take();
  expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
  limiter.close();
});

test("close() ends waiting takers with an error", async () => {
  const limiter = new RateLimiter(await database(), 1, 60_000);
  await limiter.take();
  const waiting = limiter.take();
  limiter.close();
  await expect(waiting).rejects.toThrow("closed");
});
