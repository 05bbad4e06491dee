import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import type { Db } from "../../src/db/client";
import { LoginThrottle, MAX_ATTEMPTS_PER_ACCOUNT, MAX_ATTEMPTS_PER_ADDRESS } from "../../src/http/login-throttle";
import { openDataDir } from "../../src/server";
import { tempDir } from "../support/server";

const MINUTE = 60_000;
const opened: { dir: string; db: Db }[] = [];
afterEach(() => {
  for (const { dir, db } of opened.splice(0)) {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A throttle on a real, migrated database file, with a clock the test moves. */
function throttleWithClock() {
  const dir = tempDir();
  const db = openDataDir(dir);
  opened.push({ dir, db });
  const clock = { now: 1_000_000 };
  return { clock, db, throttle: new LoginThrottle(db, () => clock.now) };
}

const rows = (db: Db) =>
  db.$client
    .query<{ key: string }, []>("SELECT key FROM login_attempts")
    .all()
    .map((r) => r.key);

describe("LoginThrottle", () => {
  test("counts attempts before checking the password: a sixth on one account from one address waits 15 minutes", async () => {
    const { clock, throttle } = throttleWithClock();
    for (let i = 0; i < MAX_ATTEMPTS_PER_ACCOUNT; i++)
      expect(await throttle.attempt("10.0.0.1", "a@example.com")).toBe(0);
    expect(await throttle.attempt("10.0.0.1", "a@example.com")).toBe(15 * 60);
    clock.now += 10 * MINUTE;
    expect(await throttle.attempt("10.0.0.1", "a@example.com")).toBe(5 * 60);
    clock.now += 5 * MINUTE;
    expect(await throttle.attempt("10.0.0.1", "a@example.com")).toBe(0); // a new window starts with this one
  });

  test("never throttles an account for everyone: the same account from another address is let through", async () => {
    const { throttle } = throttleWithClock();
    for (let i = 0; i < 50; i++) await throttle.attempt("203.0.113.5", "admin@example.com");
    expect(await throttle.attempt("203.0.113.5", "admin@example.com")).toBeGreaterThan(0);
    expect(await throttle.attempt("198.51.100.7", "admin@example.com")).toBe(0);
  });

  test("one address trying many accounts is throttled after the per-address limit", async () => {
    const { throttle } = throttleWithClock();
    for (let i = 0; i < MAX_ATTEMPTS_PER_ADDRESS; i++)
      expect(await throttle.attempt("10.0.0.1", `user${i}@example.com`)).toBe(0);
    expect(await throttle.attempt("10.0.0.1", "fresh@example.com")).toBeGreaterThan(0);
    expect(await throttle.attempt("10.0.0.2", "fresh@example.com")).toBe(0);
  });

  test("a success starts the account's count again and is not counted against the address", async () => {
    const { throttle } = throttleWithClock();
    for (let i = 0; i < MAX_ATTEMPTS_PER_ACCOUNT; i++) await throttle.attempt("10.0.0.1", "a@example.com");
    await throttle.succeed("10.0.0.1", "a@example.com");
    expect(await throttle.attempt("10.0.0.1", "a@example.com")).toBe(0);
  });

  test("the account is stored only as a hash; expired counters are pruned", async () => {
    const { clock, db, throttle } = throttleWithClock();
    await throttle.attempt("10.0.0.1", "secret-typed-as-email");
    expect(rows(db).join()).not.toContain("secret-typed-as-email");
    clock.now += 14 * MINUTE;
    await throttle.attempt("10.0.0.2", "b@example.com");
    clock.now += 2 * MINUTE;
    expect(await throttle.prune()).toBe(2); // the first attempt's two counters
    expect(rows(db)).toHaveLength(2);
  });
});
