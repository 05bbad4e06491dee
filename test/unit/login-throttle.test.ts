import { describe, expect, test } from "bun:test";
import { LoginThrottle } from "../../src/http/login-throttle";

const MINUTE = 60_000;

function throttleWithClock() {
  const clock = { now: 1_000_000 };
  return { clock, throttle: new LoginThrottle(() => clock.now) };
}

describe("LoginThrottle", () => {
  test("allows four failures, blocks after the fifth for the rest of the 15-minute window", () => {
    const { clock, throttle } = throttleWithClock();
    const keys = ["ip:10.0.0.1", "email:a@example.com"];
    for (let i = 0; i < 4; i++) {
      throttle.fail(keys);
      expect(throttle.retryAfter(keys)).toBe(0);
    }
    throttle.fail(keys);
    expect(throttle.retryAfter(keys)).toBe(15 * 60);
    clock.now += 10 * MINUTE;
    expect(throttle.retryAfter(keys)).toBe(5 * 60);
    clock.now += 5 * MINUTE + 1000;
    expect(throttle.retryAfter(keys)).toBe(0);
  });

  test("the window counts from the first failure: old failures expire", () => {
    const { clock, throttle } = throttleWithClock();
    const keys = ["email:a@example.com"];
    for (let i = 0; i < 4; i++) throttle.fail(keys);
    clock.now += 16 * MINUTE;
    throttle.fail(keys); // a new window starts with this one
    expect(throttle.retryAfter(keys)).toBe(0);
  });

  test("blocks by address and by email independently", () => {
    const { throttle } = throttleWithClock();
    for (let i = 0; i < 5; i++) throttle.fail(["ip:10.0.0.1", "email:a@example.com"]);
    expect(throttle.retryAfter(["ip:10.0.0.2", "email:a@example.com"])).toBeGreaterThan(0); // same email, other address
    expect(throttle.retryAfter(["ip:10.0.0.1", "email:b@example.com"])).toBeGreaterThan(0); // same address, other email
    expect(throttle.retryAfter(["ip:10.0.0.2", "email:b@example.com"])).toBe(0);
  });

  test("a success clears the keys' failures", () => {
    const { throttle } = throttleWithClock();
    const keys = ["ip:10.0.0.1", "email:a@example.com"];
    for (let i = 0; i < 4; i++) throttle.fail(keys);
    throttle.succeed(keys);
    throttle.fail(keys);
    expect(throttle.retryAfter(keys)).toBe(0);
  });

  test("many distinct keys do not grow without bound", () => {
    const { clock, throttle } = throttleWithClock();
    for (let i = 0; i < 10_000; i++) throttle.fail([`ip:${i}`]);
    clock.now += 16 * MINUTE;
    throttle.fail(["ip:new"]); // over 10 000 entries: expired ones are swept
    expect((throttle as unknown as { failures: Map<string, unknown> }).failures.size).toBe(1);
  });
});
