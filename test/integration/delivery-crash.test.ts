import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { eventually, startReceiver } from "../support/receiver";
import { tempDir } from "../support/server";

const N = 300;
const dataDir = tempDir("switchboard-crash-");
const receiver = startReceiver(() => ({ status: 200, delayMs: 5 }));
afterAll(async () => {
  await receiver.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function spawnWorker(count: number) {
  return Bun.spawn(
    [process.execPath, join(import.meta.dir, "../support/delivery-worker.ts"), dataDir, receiver.url, String(count)],
    {
      stdout: "pipe",
      stderr: "inherit",
    },
  );
}

const distinctDeliveries = () => new Set(receiver.requests.map((r) => r.headers["x-delivery-id"])).size;

describe("crash safety", () => {
  test("a server killed mid-burst delivers every job at least once after restart", async () => {
    const first = spawnWorker(N);
    // Kill it while the burst is in flight: some jobs sent, most not.
    await receiver.waitFor(40, 60_000);
    first.kill("SIGKILL");
    await first.exited;
    const atKill = distinctDeliveries();
    expect(atKill).toBeLessThan(N);

    const second = spawnWorker(0);
    await eventually(() => distinctDeliveries() === N, 60_000, `all ${N} deliveries`);
    second.kill("SIGTERM");
    expect(await second.exited).toBe(0);

    const db = new Database(join(dataDir, "switchboard.db"), { readonly: true });
    try {
      const rows = db
        .query<{ status: string; n: number }, []>("SELECT status, COUNT(*) AS n FROM delivery_jobs GROUP BY status")
        .all();
      expect(rows).toEqual([{ status: "succeeded", n: N }]);
      const payloads = new Set(receiver.requests.map((r) => JSON.parse(r.body).i));
      expect(payloads.size).toBe(N);
    } finally {
      db.close();
    }
    console.log(
      `crash test: ${atKill} delivered before SIGKILL, ${receiver.requests.length - N} duplicates after restart`,
    );
  }, 120_000);
});
