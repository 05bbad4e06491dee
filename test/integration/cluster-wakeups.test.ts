/**
 * Wake-ups across nodes on PostgreSQL (LISTEN/NOTIFY): node A is a server in this process, node B a
 * real `serve` process on the same database (its delivery engine's idle check is the default 30 s),
 * and this process's own store stands for a third node. The file starts its own PostgreSQL server,
 * so it runs in both passes of the suite. Last, the idle check (the safety net under the wake-ups)
 * on two engines sharing the suite's store (one SQLite file, or one PostgreSQL database with the
 * notice lost).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { Webhook } from "standardwebhooks";
import { join } from "node:path";
import type { NodeNotice } from "../../src/db/client";
import { openPostgres, type PostgresClient } from "../../src/db/pg-client";
import { openPostgresStore } from "../../src/db/pg-store";
import { LISTEN_APPLICATION_NAME } from "../../src/db/pg-wakeups";
import { openStore } from "../../src/server";
import { DeliveryEngine } from "../../src/delivery/engine";
import { EventFeed } from "../../src/events/feed";
import { createLogger } from "../../src/log";
import { type Api, startApi } from "../support/api";
import { postTo, startEngine } from "../support/delivery";
import { startFakeClearbit } from "../support/fake-clearbit";
import { POSTGRES_TEST_TIMEOUT, postgresDatabase } from "../support/postgres";
import { BUN, MAIN, ServerProcess } from "../support/process";
import { eventually, startReceiver } from "../support/receiver";
import { tempDir } from "../support/server";

setDefaultTimeout(POSTGRES_TEST_TIMEOUT + 60_000);

/** How soon after node A has answered a change node B's long poll must return. */
const WAKE_WITHIN_MS = 100;

type Polled = { settled: boolean; result: Promise<{ at: number; data: { id: number; type: string }[] }> };

describe("wake-ups across nodes on PostgreSQL", () => {
  let url: string;
  let a: Api;
  let b: ServerProcess;
  let observer: PostgresClient;
  const dirB = tempDir("switchboard-node-b-");

  beforeAll(async () => {
    url = await postgresDatabase();
    a = await startApi({ databaseUrl: url, nodeId: "a" });
    b = await ServerProcess.start([
      BUN,
      MAIN,
      "serve",
      "--port",
      "0",
      "--data-dir",
      dirB,
      "--database-url",
      url,
      "--node-id",
      "b",
      "--secret-key-file",
      join(a.server.dataDir, "secret.key"),
    ]);
    observer = openPostgres(url, { max: 2, applicationName: "test observer" });
  });

  afterAll(async () => {
    await b?.kill();
    await a?.server.close();
    await observer?.end();
    rmSync(dirB, { recursive: true, force: true });
  });

  const newestEventId = async () =>
    (await observer<{ id: number }[]>`SELECT coalesce(max(id), 0)::int8 AS id FROM events`)[0]!.id;

  /** A long poll on node B after the newest event; `settled` says whether it has returned yet. */
  async function pollOnB(waitSeconds = 20): Promise<Polled> {
    const cursor = await newestEventId();
    const polled: Polled = {
      settled: false,
      result: fetch(`${b.url}/api/v1/events?cursor=${cursor}&wait=${waitSeconds}`, {
        headers: { authorization: `Bearer ${a.token}` },
      }).then(async (res) => {
        const body = (await res.json()) as { data: { id: number; type: string }[] };
        polled.settled = true;
        return { at: performance.now(), data: body.data };
      }),
    };
    // Node B has read the (empty) page and waits.
    await Bun.sleep(500);
    expect(polled.settled).toBe(false);
    return polled;
  }

  /** A person created through node A's REST API; when A answered (after its commit). */
  async function createOnA(email: string): Promise<{ id: number; answeredAt: number }> {
    const created = await a.call("POST", "/api/v1/users", { email });
    expect(created.status).toBe(201);
    return { id: created.body.id, answeredAt: performance.now() };
  }

  test("a long poll on node B returns within 100 ms of a change made through node A's REST API", async () => {
    const lags: number[] = [];
    for (let round = 0; round < 5; round++) {
      const poll = await pollOnB();
      const { id, answeredAt } = await createOnA(`poll-${round}@example.com`);
      const { at, data } = await poll.result;
      expect(data.map((e) => e.type)).toContain("user.created");
      expect(await newestEventId()).toBe(data.at(-1)!.id);
      lags.push(at - answeredAt);
      expect(id).toBeGreaterThan(0);
    }
    console.log(`node B's long poll returned ${lags.map((l) => l.toFixed(1)).join(", ")} ms after A answered`);
    for (const lag of lags) expect(lag).toBeLessThan(WAKE_WITHIN_MS);
  });

  test("a job enqueued on node A, whose engine is stopped, is sent by node B at once, not at its idle check", async () => {
    const receiver = startReceiver();
    try {
      const hook = await a.call("POST", "/api/v1/webhooks", { name: "cross-node", url: `${receiver.url}/hook` });
      expect(hook.status).toBe(201);
      const trigger = await a.call("POST", "/api/v1/triggers", {
        name: "people",
        events: ["user.created"],
        webhook_ids: [hook.body.id],
      });
      expect(trigger.status).toBe(201);
      // From now on only node B sends.
      await a.server.ctx.delivery.stop();
      const lags: number[] = [];
      for (let round = 0; round < 3; round++) {
        await createOnA(`hook-${round}@example.com`);
        const answeredAt = Date.now();
        const [request] = (await receiver.waitFor(round + 1, 10_000)).slice(round);
        expect(JSON.parse(request!.body).user.email).toBe(`hook-${round}@example.com`);
        lags.push(request!.at - answeredAt);
        await Bun.sleep(700);
      }
      console.log(`node B sent the deliveries ${lags.join(", ")} ms after A answered`);
      // Node B's idle check comes every 30 s: only the notification explains sends this soon.
      for (const lag of lags) expect(lag).toBeLessThan(1_000);
    } finally {
      await receiver.stop();
    }
  });

  test("a rolled back transaction notifies nobody; its committed neighbour wakes node B", async () => {
    const third = await openPostgresStore(url, { max: 2 });
    const heard: string[] = [];
    const listening = await observer.listen("switchboard_changes", (payload) => heard.push(payload));
    try {
      const feed = new EventFeed(third);
      const change = { type: "user.updated", objectType: "user", objectId: 1, actor: { id: null, source: "api" } };
      const poll = await pollOnB();
      await expect(
        third.transaction(async (tx) => {
          await feed.record(tx, change as Parameters<EventFeed["record"]>[1]);
          throw new Error("rolled back");
        }),
      ).rejects.toThrow("rolled back");
      // A savepoint rolled back inside a committing transaction drops its notification too.
      await third.transaction(async (tx) => {
        await tx
          .savepoint(async (sp) => {
            await feed.record(sp, change as Parameters<EventFeed["record"]>[1]);
            throw new Error("savepoint rolled back");
          })
          .catch(() => undefined);
      });
      await Bun.sleep(1_500);
      expect(poll.settled).toBe(false);
      expect(heard).toEqual([]);

      const committed = await third.transaction((tx) => feed.record(tx, change as Parameters<EventFeed["record"]>[1]));
      const { data } = await poll.result;
      expect(data.map((e) => e.id)).toEqual([committed.id]);
      await eventually(async () => heard.length > 0, 5_000, "the committed change's notification");
      expect(heard).toHaveLength(1);
      expect(JSON.parse(heard[0]!).keys).toEqual([String(committed.id)]);
    } finally {
      await listening.unlisten();
      await third.close();
    }
  });

  test("a store hears other stores' notifications, one per channel and transaction, never its own", async () => {
    const [one, two] = [await openPostgresStore(url, { max: 2 }), await openPostgresStore(url, { max: 2 })];
    const heardByOne: NodeNotice[] = [];
    const heardByTwo: NodeNotice[] = [];
    one.onNodesNotify("deliveries", (n) => heardByOne.push(n));
    two.onNodesNotify("deliveries", (n) => heardByTwo.push(n));
    try {
      // Both listen once their LISTEN is established: that first wakes each with "all".
      await eventually(async () => heardByOne.includes("all") && heardByTwo.includes("all"), 5_000, "listening");
      heardByOne.length = 0;
      heardByTwo.length = 0;
      await one.transaction(async (tx) => {
        for (const key of ["webhook:1", "crm:2", "webhook:1"]) tx.notifyNodes("deliveries", key);
      });
      // More keys than a payload holds (PostgreSQL's 8000 bytes) become "all".
      await one.transaction(async (tx) => {
        for (let i = 0; i < 1_000; i++) tx.notifyNodes("deliveries", `webhook:${i}`);
      });
      await eventually(async () => heardByTwo.length === 2, 5_000, "two notifications");
      expect(heardByTwo).toEqual([["webhook:1", "crm:2"], "all"]);
      await Bun.sleep(300);
      expect(heardByOne).toEqual([]);
    } finally {
      await one.close();
      await two.close();
    }
  });

  test("after its LISTEN connection is killed, node B is woken for what it missed and for what follows", async () => {
    const listeners = async () =>
      (
        await observer<{ pid: number }[]>`
          SELECT pid FROM pg_stat_activity
          WHERE application_name = ${LISTEN_APPLICATION_NAME} AND datname = current_database()`
      ).map((r) => r.pid);
    const before = await listeners();
    expect(before.length).toBeGreaterThanOrEqual(1);

    // A change no notification announces stands for one sent while B's connection was down.
    const poll = await pollOnB();
    const [missed] = await observer<{ id: number }[]>`
      INSERT INTO events (type, object_type, object_id, changes, source, created_at)
      VALUES ('user.updated', 'user', 1, '{}', 'api', ${Date.now()}) RETURNING id`;
    await Bun.sleep(1_000);
    expect(poll.settled).toBe(false);
    for (const pid of before) await observer`SELECT pg_terminate_backend(${pid})`;
    const { data } = await poll.result;
    expect(data.map((e) => e.id)).toEqual([missed!.id]);
    await eventually(
      async () => (await listeners()).filter((pid) => !before.includes(pid)).length === before.length,
      10_000,
      "the LISTEN connections back",
    );

    const again = await pollOnB();
    const { answeredAt } = await createOnA("after-reconnect@example.com");
    const woke = await again.result;
    expect(woke.data.map((e) => e.type)).toContain("user.created");
    expect(woke.at - answeredAt).toBeLessThan(WAKE_WITHIN_MS);
  });

  test("a trigger made on node A applies to the next change on node B (its copy of the routes is dropped at once)", async () => {
    const receiver = startReceiver();
    const onB = (name: string) =>
      fetch(`${b.url}/api/v1/organizations`, {
        method: "POST",
        headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" },
        body: JSON.stringify({ name }),
      });
    try {
      // Node B reads its routes (none for organizations yet) and keeps them.
      expect((await onB("Before")).status).toBe(201);
      const hook = await a.call("POST", "/api/v1/webhooks", { name: "orgs", url: `${receiver.url}/orgs` });
      const trigger = await a.call("POST", "/api/v1/triggers", {
        name: "organizations",
        events: ["organization.created"],
        webhook_ids: [hook.body.id],
      });
      expect(trigger.status).toBe(201);
      expect((await onB("After")).status).toBe(201);
      const [request] = await receiver.waitFor(1, 10_000);
      expect(JSON.parse(request!.body).organization.name).toBe("After");
    } finally {
      await receiver.stop();
    }
  });

  test("a secret rotated and a URL changed through node A apply to node B's next send (its copy is dropped)", async () => {
    const receiver = startReceiver();
    try {
      const hook = await a.call("POST", "/api/v1/webhooks", { name: "moving", url: `${receiver.url}/before` });
      expect(hook.status).toBe(201);
      // Node A's engine is stopped (above): node B sends, reading the webhook and keeping it (a minute).
      const sendTest = async (n: number) => {
        expect((await a.call("POST", `/api/v1/webhooks/${hook.body.id}/test`, {})).status).toBe(202);
        return (await receiver.waitFor(n, 10_000))[n - 1]!;
      };
      const first = await sendTest(1);
      expect(first.path).toBe("/before");
      expect(new Webhook(hook.body.signing_secret).verify(first.body, first.headers)).toBeTruthy();
      const rotated = await a.call("POST", `/api/v1/webhooks/${hook.body.id}/rotate_secret`, { grace_hours: 0 });
      expect(rotated.status).toBe(200);
      const second = await sendTest(2);
      expect(second.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
      expect(new Webhook(rotated.body.signing_secret).verify(second.body, second.headers)).toBeTruthy();
      const moved = await a.call("PATCH", `/api/v1/webhooks/${hook.body.id}`, { url: `${receiver.url}/after` });
      expect(moved.status).toBe(200);
      expect((await sendTest(3)).path).toBe("/after");
    } finally {
      await receiver.stop();
    }
  });

  test("Clearbit settings saved through node A apply to node B's next person (its copy is dropped)", async () => {
    const fake = startFakeClearbit();
    const onB = (email: string) =>
      fetch(`${b.url}/api/v1/users`, {
        method: "POST",
        headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" },
        body: JSON.stringify({ email }),
      });
    const lookups = async () =>
      (await observer<{ email: string }[]>`SELECT email FROM enrichment_lookups ORDER BY email`).map((r) => r.email);
    try {
      // Node B reads its settings (Clearbit off) for a new person and keeps them (a minute on PostgreSQL).
      expect((await onB("before-clearbit@acme.com")).status).toBe(201);
      const saved = await a.call("PUT", "/api/v1/integrations/clearbit", {
        enabled: true,
        api_key: fake.key,
        person_url: fake.url,
        company_url: fake.url,
        stream_url: fake.streamUrl,
      });
      expect(saved.status).toBe(200);
      // B's change-feed consumer plans the lookup in the transaction creating the person.
      expect((await onB("after-clearbit@acme.com")).status).toBe(201);
      expect(await lookups()).toEqual(["after-clearbit@acme.com"]);
      expect(
        (await (
          await fetch(`${b.url}/api/v1/integrations/clearbit`, { headers: { authorization: `Bearer ${a.token}` } })
        ).json()) as { enabled: boolean },
      ).toMatchObject({ enabled: true });
    } finally {
      expect((await a.call("PATCH", "/api/v1/integrations/clearbit", { enabled: false })).status).toBe(200);
      await fake.stop();
    }
  });
});

describe("the delivery engine's idle check", () => {
  test("finds a job another process enqueued (no wake-up) within its interval, however long the lease", async () => {
    const receiver = startReceiver();
    // Lease chores every 200 ms run more often than the 500 ms idle check: each must keep its own clock.
    const fx = await startEngine({ leaseMs: 600, idleCheckMs: 500 });
    const other = await openStore(fx);
    try {
      fx.engine.register("ping", postTo(receiver.url));
      const elsewhere = new DeliveryEngine(
        other,
        createLogger("error", () => {}),
      );
      await Bun.sleep(300);
      await other.transaction((tx) => {
        // Its notice lost (on PostgreSQL; SQLite has none): only the idle check can find the job.
        tx.notifyNodes = () => {};
        return elsewhere.enqueue(tx, { kind: "ping", destination: "r", payload: { n: 1 } });
      });
      const enqueuedAt = Date.now();
      const [request] = await receiver.waitFor(1, 5_000);
      expect(request!.at - enqueuedAt).toBeLessThan(2_000);
    } finally {
      await other.close();
      await fx.close();
      await receiver.stop();
    }
  });
});
