import { expect, test } from "bun:test";
import { RateLimiter } from "../../src/enrichment/rate-limiter";

/** The most grants inside any window of `windowMs` (sliding over every grant). */
function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

test("concurrent takers never exceed the limit in any window, and keep close to it", async () => {
  const limiter = new RateLimiter(50, 500);
  const times: number[] = [];
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let i = 0; i < 8; i++) {
        await limiter.take();
        times.push(Date.now());
      }
    }),
  );
  times.sort((a, b) => a - b);
  expect(times.length).toBe(160);
  expect(maxInWindow(times, 500)).toBeLessThanOrEqual(50);
  // 160 slots at 50 per 500 ms take a bit over 1.5 s; generous bound for a noisy machine.
  expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
  limiter.close();
});

test("the provider's remaining budget holds further slots until its reset", async () => {
  const limiter = new RateLimiter(1000, 1000);
  limiter.observe(2, 0.4);
  const t0 = Date.now();
  await limiter.take();
  await limiter.take();
  await limiter.take();
  expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
  limiter.close();
});

test("close() ends waiting takers with an error", async () => {
  const limiter = new RateLimiter(1, 60_000);
  await limiter.take();
  const waiting = limiter.take();
  limiter.close();
  await expect(waiting).rejects.toThrow("closed");
});
