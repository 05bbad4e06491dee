import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DataDirLockedError, lockDataDir } from "../../src/db/lock";
import { tempDir } from "../support/server";

const dirs: string[] = [];
const lockPath = () => {
  const dir = tempDir();
  dirs.push(dir);
  return join(dir, "switchboard.lock");
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A process that is certainly alive while the tests run, and one that is certainly gone. */
const sleeper = Bun.spawn(["sleep", "60"], { stdout: "ignore", stderr: "ignore" });
afterAll(async () => {
  sleeper.kill();
  await sleeper.exited;
});
async function deadPid(): Promise<number> {
  const p = Bun.spawn(["true"]);
  await p.exited;
  return p.pid;
}

describe("lockDataDir", () => {
  test("creates a private lock file holding our pid, removed on release", () => {
    const path = lockPath();
    const lock = lockDataDir(path);
    expect(readFileSync(path, "utf8")).toBe(String(process.pid));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  test("refuses a lock held by a live process, naming its pid, and leaves it in place", () => {
    const path = lockPath();
    writeFileSync(path, String(sleeper.pid));
    expect(() => lockDataDir(path)).toThrow(DataDirLockedError);
    expect(() => lockDataDir(path)).toThrow(`pid ${sleeper.pid}`);
    expect(readFileSync(path, "utf8")).toBe(String(sleeper.pid));
  });

  test("takes over a stale lock left by a dead process", async () => {
    const path = lockPath();
    writeFileSync(path, String(await deadPid()));
    const lock = lockDataDir(path);
    expect(readFileSync(path, "utf8")).toBe(String(process.pid));
    lock.release();
  });

  test("takes over an empty lock file (a crash before the pid was written)", () => {
    const path = lockPath();
    writeFileSync(path, "");
    lockDataDir(path).release();
  });

  test("takes over a lock with our own pid (a restarted container's pid 1)", () => {
    const path = lockPath();
    writeFileSync(path, String(process.pid));
    expect(() => lockDataDir(path)).not.toThrow();
  });

  test("release leaves a lock another process has taken since", () => {
    const path = lockPath();
    const lock = lockDataDir(path);
    writeFileSync(path, String(sleeper.pid));
    lock.release();
    expect(readFileSync(path, "utf8")).toBe(String(sleeper.pid));
  });
});
