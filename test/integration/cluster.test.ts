import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { eq } from "drizzle-orm";
import { copyFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../src/db/client";
import {
  nodes,
  pageState,
  pendingUploadChunks,
  pendingUploads,
  scheduleRuns,
  sessions as sessionsTable,
  settings,
  users,
} from "../../src/db/schema";
import { BUN, MAIN, ROOT, runCli, ServerProcess } from "../support/process";
import { type Api, startApi } from "../support/api";
import { decodeEntities } from "../support/admin-seed";
import { ADMIN, Browser, csrfOf, setupAdmin, signIn, tempDir } from "../support/server";

setDefaultTimeout(60_000);

/** Two (or more) real server processes on one SQLite file, each under its own --node-id. */
const NODE = join(ROOT, "test/support/cluster-node.ts");
/** A schedule every 2 s whose run takes 300 ms. */
const TICK = ["--tick", "*/2 * * * * *", "--tick-ms", "300"];
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
    const a = await node([BUN, NODE, "--data-dir", dataDir, "--node-id", "a", ...TICK]);
    const b = await node([BUN, NODE, "--data-dir", dataDir, "--node-id", "b", ...TICK]);
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
      await db.close();
    }
  });
});

/** The rows a refused start must leave as they were. */
async function snapshotOf(dataDir: string) {
  const db = openDatabase(join(dataDir, "switchboard.db"));
  try {
    return {
      settings: await db.select().from(settings),
      nodes: await db.select().from(nodes),
      files: readdirSync(dataDir).sort(),
    };
  } finally {
    await db.close();
  }
}

describe("the shared secret key", () => {
  const serve = (dataDir: string, ...args: string[]) => [
    BUN,
    MAIN,
    "serve",
    "--data-dir",
    dataDir,
    "--port",
    "0",
    ...args,
  ];
  const otherKey = (dir: string) => {
    const path = join(dir, "other.key");
    writeFileSync(path, `${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}\n`, {
      mode: 0o600,
    });
    return path;
  };

  test("a node with another key refuses to start, naming the flag, and writes nothing", async () => {
    const dataDir = sharedDir();
    const first = await node(serve(dataDir, "--node-id", "a"));
    await first.stop();
    const before = await snapshotOf(dataDir);
    const wrong = otherKey(sharedDir());

    const refused = await runCli([
      "serve",
      "--data-dir",
      dataDir,
      "--port",
      "0",
      "--node-id",
      "b",
      "--secret-key-file",
      wrong,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`secret key in ${wrong} does not match the key this database was set up with`);
    expect(refused.stderr).toContain("--secret-key-file");
    expect(await snapshotOf(dataDir)).toEqual(before);

    // The same through the environment variable.
    const viaEnv = await runCli(["serve", "--data-dir", dataDir, "--port", "0"], {
      env: { SWITCHBOARD_SECRET_KEY_FILE: wrong },
    });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toContain("does not match");
    expect(await snapshotOf(dataDir)).toEqual(before);
  });

  test("a missing key file is not made afresh for a database that has a key", async () => {
    const dataDir = sharedDir();
    await (await node(serve(dataDir))).stop();
    renameSync(join(dataDir, "secret.key"), join(dataDir, "secret.key.away"));
    const refused = await runCli(["serve", "--data-dir", dataDir, "--port", "0"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`secret key file ${join(dataDir, "secret.key")} is missing`);
    expect(existsSync(join(dataDir, "secret.key"))).toBe(false);
  });

  test("nodes sharing one key file (outside the data directory) start, and the key is the file's", async () => {
    const dataDir = sharedDir();
    const keyDir = sharedDir();
    const keyFile = join(keyDir, "cluster.key");
    const a = await node(serve(dataDir, "--node-id", "a", "--secret-key-file", keyFile));
    expect(existsSync(keyFile)).toBe(true);
    expect(existsSync(join(dataDir, "secret.key"))).toBe(false);
    // The second node gets a copy of the key, through the environment variable.
    const copy = join(keyDir, "copy.key");
    copyFileSync(keyFile, copy);
    const b = await ServerProcess.start(serve(dataDir, "--node-id", "b"), {
      env: { SWITCHBOARD_SECRET_KEY_FILE: copy },
    });
    running.push(b);
    expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
    expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
    expect(readFileSync(copy, "utf8")).toBe(readFileSync(keyFile, "utf8"));
  });
});

describe("nodes and schedules on the dashboard and in /api/v1/operations", () => {
  let api: Api;
  afterEach(async () => {
    await api?.server.close();
  });
  const DAY = 24 * 3_600_000;

  test("live, stale after three missed heartbeats, forgotten after a week", async () => {
    api = await startApi({ nodeId: "alpha" });
    const { db } = api.server.ctx;
    const now = Date.now();
    const row = (id: string, lastSeen: number) => ({
      id,
      address: `http://${id}.test:8080`,
      version: "0.0.1",
      startedAt: new Date(lastSeen - 3_600_000),
      lastSeenAt: new Date(lastSeen),
      activity: { in_flight_deliveries: 2, running_schedules: ["enrichment"] },
    });
    await db.transaction(async (tx) => {
      await tx.insert(nodes).values([row("beta", now - 31_000), row("gamma", now - 8 * DAY)]);
    });
    let ops = (await api.call("GET", "/api/v1/operations")).body;
    expect(ops.nodes.map((n: { id: string; state: string }) => `${n.id} ${n.state}`)).toEqual([
      "alpha live",
      "beta stale",
      "gamma stale",
    ]);
    expect(ops.nodes[1]).toMatchObject({
      address: "http://beta.test:8080",
      in_flight_deliveries: 2,
      running_schedules: ["enrichment"],
    });
    expect(ops.nodes[0]).toMatchObject({ address: api.server.url, running_schedules: [] });

    const page = decodeEntities(await (await (await signIn(api.server)).get("/")).text());
    expect(page).toMatch(/<tr data-node="alpha">[\s\S]*?>live</);
    expect(page).toMatch(/<tr data-node="beta">[\s\S]*?>stale</);

    // The next heartbeat forgets the node not heard from in a week.
    await api.server.heartbeat.beat();
    ops = (await api.call("GET", "/api/v1/operations")).body;
    expect(ops.nodes.map((n: { id: string }) => n.id)).toEqual(["alpha", "beta"]);
  });

  test("a schedule's latest run shows its period, node and outcome", async () => {
    api = await startApi({ nodeId: "alpha" });
    await api.server.schedules.trigger("housekeeping");
    const ops = (await api.call("GET", "/api/v1/operations")).body;
    expect(ops.schedules).toEqual([
      expect.objectContaining({ name: "housekeeping", node: "alpha", outcome: "succeeded", error: null, attempts: 1 }),
    ]);
    // Housekeeping runs at :00, :15, :30 and :45: the period is the quarter hour this run belongs to.
    expect(Date.parse(ops.schedules[0].period_start) % (15 * 60_000)).toBe(0);
    const page = decodeEntities(await (await (await signIn(api.server)).get("/")).text());
    expect(page).toMatch(/<tr data-schedule="housekeeping">[\s\S]*?class="schedule-node">alpha</);
  });

  test("housekeeping prunes expired page state and CSV previews, and keeps the rest", async () => {
    api = await startApi({ nodeId: "alpha" });
    const { db } = api.server.ctx;
    const [admin] = await db.select({ id: users.id }).from(users).limit(1);
    const at = (ms: number) => new Date(Date.now() + ms);
    await db.transaction(async (tx) => {
      await tx.insert(pageState).values([
        { key: "shown_once:old", kind: "shown_once", page: "/tokens", data: "v1:x", expiresAt: at(-1_000) },
        { key: "kept_form:old", kind: "kept_form", page: "/people/new", data: "{}", expiresAt: at(-1_000) },
        { key: "kept_form:new", kind: "kept_form", page: "/people/new", data: "{}", expiresAt: at(60_000) },
      ]);
      await tx.insert(pendingUploads).values([
        { id: "old", kind: "user", userId: admin!.id, bytes: 1, expiresAt: at(-1_000) },
        { id: "new", kind: "user", userId: admin!.id, bytes: 1, expiresAt: at(60_000) },
      ]);
      await tx.insert(pendingUploadChunks).values({ uploadId: "old", seq: 0, data: Buffer.from("x") });
    });
    await api.server.schedules.trigger("housekeeping");
    expect((await db.select().from(pageState)).map((r) => r.key)).toEqual(["kept_form:new"]);
    expect((await db.select().from(pendingUploads)).map((r) => r.id)).toEqual(["new"]);
    expect(await db.select().from(pendingUploadChunks)).toEqual([]);
  });

  test("a run whose node died (its lease ran out) is taken over by the next heartbeat", async () => {
    api = await startApi({ nodeId: "alpha" });
    const { db } = api.server.ctx;
    const period = new Date(Math.floor(Date.now() / 900_000) * 900_000);
    await db.transaction(async (tx) => {
      await tx.insert(scheduleRuns).values({
        schedule: "housekeeping",
        periodStart: period,
        nodeId: "dead",
        startedAt: new Date(Date.now() - 120_000),
        leaseUntil: new Date(Date.now() - 1_000),
        outcome: "running",
      });
    });
    await api.server.heartbeat.beat();
    await api.server.claims.drain();
    const [run] = await db.select().from(scheduleRuns).where(eq(scheduleRuns.schedule, "housekeeping"));
    expect(run).toMatchObject({ nodeId: "alpha", outcome: "succeeded", attempts: 2, periodStart: period });
    // The same period is not run again by its timer.
    expect(
      await api.server.claims.runOnce(
        {
          name: "housekeeping",
          pattern: "",
          run: () => {
            throw new Error("ran twice");
          },
        },
        period.getTime(),
      ),
    ).toBe(false);
  });
});

describe("state a second node would miss is in the database", () => {
  const serve = (dataDir: string, id: string) => [
    BUN,
    MAIN,
    "serve",
    "--data-dir",
    dataDir,
    "--port",
    "0",
    "--node-id",
    id,
  ];
  /** The same browser (its cookies) talking to another node, as behind a load balancer. */
  const on = (browser: Browser, url: string) => {
    const other = new Browser(url);
    other.cookies = browser.cookies;
    return other;
  };
  const withDb = async <T>(dataDir: string, read: (db: ReturnType<typeof openDatabase>) => Promise<T>) => {
    const db = openDatabase(join(dataDir, "switchboard.db"));
    try {
      return await read(db);
    } finally {
      await db.close();
    }
  };

  test("nodes may share a data directory only under different names", async () => {
    const dataDir = sharedDir();
    const a = await node(serve(dataDir, "a"));
    const twin = await runCli(["serve", "--data-dir", dataDir, "--port", "0", "--node-id", "a"]);
    expect(twin.code).toBe(1);
    expect(twin.stderr).toContain(`in use by another Switchboard process (pid ${a.proc.pid})`);
  });

  test("a secret shown once, a kept form and a CSV preview made on one node are taken on the other", async () => {
    const dataDir = sharedDir();
    const a = await node(serve(dataDir, "a"));
    const b = await node(serve(dataDir, "b"));
    const onA = await setupAdmin({ url: a.url });
    const onB = on(onA, b.url);

    // A new API token: created on A, shown once on B, sealed while it waits.
    const created = await onA.submit("/tokens", "/tokens", { name: "cluster" });
    expect(created.status).toBe(303);
    const waiting = await withDb(dataDir, (db) => db.select().from(pageState));
    expect(waiting).toHaveLength(1);
    expect(waiting[0]!.data).toStartWith("v1:");
    const shown = await (await onB.get("/tokens")).text();
    const token = /id="new-token">([^<]+)</.exec(shown)?.[1];
    expect(token).toBeDefined();
    expect(waiting[0]!.data).not.toContain(token!);
    expect(await (await onA.get("/tokens")).text()).not.toContain(token!);
    expect((await fetch(`${a.url}/api/v1/operations`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(
      200,
    );

    // A form posted on A after the session ended is filled in on B after signing in there.
    const csrf = csrfOf(await (await onA.get("/organizations/new")).text());
    await withDb(dataDir, (db) => db.transaction(async (tx) => void (await tx.delete(sessionsTable))));
    const expired = await onA.request("/organizations", {
      method: "POST",
      headers: { referer: `${a.url}/organizations/new` },
      form: { _csrf: csrf, name: "Kept Across Nodes", api_secret: "hunter2" },
    });
    expect(expired.status).toBe(303);
    const keptRow = (await withDb(dataDir, (db) => db.select().from(pageState))).find((r) => r.kind === "kept_form");
    expect(keptRow?.data).toContain("Kept Across Nodes");
    expect(keptRow?.data).not.toContain("hunter2");
    const back = on(await signIn({ url: b.url }), b.url);
    back.cookies.set("sb_kept", onA.cookies.get("sb_kept")!);
    const filled = await (await back.get("/organizations/new")).text();
    expect(filled).toContain('value="Kept Across Nodes"');

    // A CSV previewed on A is imported on B.
    const importer = await signIn({ url: a.url }, ADMIN.email, ADMIN.password);
    const form = new FormData();
    form.set("_csrf", csrfOf(await (await importer.get("/people/import")).text()));
    form.set("file", new Blob(["email,firstname\nnode-a@example.com,Nadia\n"], { type: "text/csv" }), "p.csv");
    const preview = await (await importer.request("/people/import", { method: "POST", body: form })).text();
    const action = /action="(\/people\/import\/[^"]+)"/.exec(preview.replaceAll("&#x2F;", "/"))![1]!;
    const imported = await on(importer, b.url).request(action, { method: "POST", form: { _csrf: csrfOf(preview) } });
    expect(imported.status).toBe(303);
    expect(imported.headers.get("location")).toBe("/people");
    const people = await (await on(importer, b.url).get("/people?q=node-a")).text();
    expect(people).toContain("node-a@example.com");
  });
});
