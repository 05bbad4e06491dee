import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { eq } from "drizzle-orm";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../src/db/client";
import { scheduleRuns } from "../../src/db/schema";
import { BUN, ROOT, ServerProcess } from "../support/process";
import { tempDir } from "../support/server";

setDefaultTimeout(60_000);

/** Two (or more) real server processes on one SQLite file, each under its own --node-id. */
const NODE = join(ROOT, "test/support/cluster-node.ts");
let running: ServerProcess[] = [];
let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.map((p) => p.kill()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  running = [];
  dirs = [];
});

const sharedDir = () => {
  const dir = tempDir("switchboard-cluster-");
  dirs.push(dir);
  return dir;
};
async function node(cmd: string[]): Promise<ServerProcess> {
  const p = await ServerProcess.start(cmd);
  running.push(p);
  return p;
}

describe("schedules in a cluster", () => {
  test("a schedule fires once per period however many nodes run its timer", async () => {
    const dataDir = sharedDir();
    const a = await node([BUN, NODE, dataDir, "a", "*/2 * * * * *", "300"]);
    const b = await node([BUN, NODE, dataDir, "b", "*/2 * * * * *", "300"]);
    await Bun.sleep(9_000);
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);

    const ran = [...a.logs, ...b.logs].filter((l) => l.msg === "tick ran");
    const db = openDatabase(join(dataDir, "switchboard.db"));
    try {
      const rows = await db.select().from(scheduleRuns).where(eq(scheduleRuns.schedule, "tick"));
      expect(ran.length).toBeGreaterThanOrEqual(3);
      // Every run made is one claimed period, by the node that ran it, and finished.
      expect(rows).toHaveLength(ran.length);
      for (const id of ["a", "b"])
        expect(rows.filter((r) => r.nodeId === id)).toHaveLength(ran.filter((r) => r.node === id).length);
      expect(rows.every((r) => r.outcome === "succeeded" && r.finishedAt !== null)).toBe(true);
      // No period ran twice: runs start a period (2 s) apart, never together.
      const starts = ran.map((r) => Number(r.started)).sort((x, y) => x - y);
      for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThan(1_500);
    } finally {
      db.close();
    }
  });
});
