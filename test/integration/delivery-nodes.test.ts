import { afterAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { DeliveryEngine } from "../../src/delivery/engine";
import { createLogger } from "../../src/log";
import { openDataDir } from "../../src/server";
import { eventually, startReceiver } from "../support/receiver";
import { tempDir } from "../support/server";

const PLAIN = 120;
const KEYS = 8;
const PER_KEY = 10;
const N = PLAIN + KEYS * PER_KEY;
const LEASE_MS = 1_500;

const dataDir = tempDir("switchboard-nodes-");
// What is on the wire now, per delivery id: two at once would be one job sent twice concurrently.
const onWire = new Map<string, number>();
let overlaps = 0;
const receiver = startReceiver(async (req) => {
  const id = req.headers["x-delivery-id"]!;
  const n = (onWire.get(id) ?? 0) + 1;
  onWire.set(id, n);
  if (n > 1) overlaps++;
  await Bun.sleep(30);
  onWire.set(id, onWire.get(id)! - 1);
  return { status: 200 };
});
const db = openDataDir(dataDir);
/** Every node process started, killed at the end whatever the test's outcome (a failed assertion included). */
const nodes: Subprocess[] = [];
afterAll(async () => {
  for (const node of nodes) node.kill("SIGKILL");
  await db.close();
  await receiver.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function spawnNode(nodeId: string) {
  const proc = Bun.spawn(
    [
      process.execPath,
      join(import.meta.dir, "../support/engine-node.ts"),
      dataDir,
      receiver.url,
      nodeId,
      `${LEASE_MS}`,
    ],
    { stdout: "pipe", stderr: "inherit" },
  );
  nodes.push(proc);
  const first = await proc.stdout.getReader().read();
  expect(new TextDecoder().decode(first.value)).toContain("ready");
  return proc;
}

describe("two nodes on one database", () => {
  test("never send a job concurrently, keep per-key order, and take over a killed node's leases", async () => {
    const [a, b] = [await spawnNode("node-a"), await spawnNode("node-b")];
    // Queued by a third party (this process), as another node's API would.
    const queue = new DeliveryEngine(
      db,
      createLogger("error", () => {}),
    );
    await db.transaction(async (tx) => {
      await queue.configureDestination(tx, "fifo", { strictOrder: true });
      const jobs = [];
      for (let i = 0; i < PLAIN; i++) jobs.push({ kind: "cluster", destination: "plain", payload: { i } });
      for (let seq = 0; seq < PER_KEY; seq++)
        for (let k = 0; k < KEYS; k++)
          jobs.push({ kind: "cluster", destination: "fifo", orderingKey: `k${k}`, payload: { key: `k${k}`, seq } });
      await queue.enqueueMany(tx, jobs);
    });

    // Both nodes at work (a node process may be slow to take its first turn on a loaded machine), then one dies.
    const sentBy = (node: string) => receiver.requests.some((r) => r.headers["x-node"] === node);
    await eventually(
      () => receiver.requests.length >= 60 && sentBy("node-a") && sentBy("node-b"),
      60_000,
      "both nodes sending",
    );
    a.kill("SIGKILL");
    await a.exited;
    const killedAt = Date.now();
    const sentByA = new Set(receiver.requests.filter((r) => r.headers["x-node"] === "node-a").map(deliveryId));
    expect(sentByA.size).toBeGreaterThan(0);

    // Every job recorded as sent: the receiver may already hold a request node A sent but never
    // recorded (killed in between); node B sends it again once A's lease ends.
    const succeeded = () =>
      db.$client.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM delivery_jobs WHERE status = 'succeeded'").get()!
        .n;
    await eventually(() => succeeded() === N, 60_000, `all ${N} deliveries recorded`);
    expect(new Set(receiver.requests.map(deliveryId)).size).toBe(N);
    b.kill("SIGTERM");
    expect(await b.exited).toBe(0);

    expect(overlaps).toBe(0);
    const statuses = db.$client
      .query<{ status: string; n: number }, []>("SELECT status, COUNT(*) AS n FROM delivery_jobs GROUP BY status")
      .all();
    expect(statuses).toEqual([{ status: "succeeded", n: N }]);
    // Node A's leased jobs went out again from node B, after the kill (with the same delivery id).
    const leftByA = db.$client
      .query<{ delivery_id: string }, []>("SELECT delivery_id FROM delivery_jobs WHERE attempts > 1")
      .all()
      .map((r) => r.delivery_id);
    expect(leftByA.length).toBeGreaterThan(0);
    for (const id of leftByA) {
      const resent = receiver.requests.filter((r) => deliveryId(r) === id && r.headers["x-node"] === "node-b");
      expect(resent.length).toBeGreaterThan(0);
      expect(resent.at(-1)!.at).toBeGreaterThanOrEqual(killedAt);
    }
    // Per key, every request (duplicates included) arrived in sequence order.
    for (let k = 0; k < KEYS; k++) {
      const seqs = receiver.requests
        .map((r) => JSON.parse(r.body) as { key?: string; seq: number })
        .filter((p) => p.key === `k${k}`)
        .map((p) => p.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(PER_KEY);
    }
  }, 120_000);
});

const deliveryId = (r: { headers: Record<string, string> }) => r.headers["x-delivery-id"]!;
