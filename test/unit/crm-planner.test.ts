import { describe, expect, test } from "bun:test";
import { syncsChanged } from "../../src/crm-sync/config";
import { CrmSyncPlanner, CRM_JOB_KIND, type CrmJobPayload } from "../../src/crm-sync/planner";
import { crmSyncs, type CrmFilter, type CrmOperation } from "../../src/crm-sync/schema";
import { createOrganization } from "../../src/domain/organizations";
import { createUser, deleteUser, updateUser } from "../../src/domain/users";
import { DeliveryEngine } from "../../src/delivery/engine";
import { EventFeed, type Actor } from "../../src/events/feed";
import { createLogger } from "../../src/log";
import { rowsOf, writeRows } from "../support/store";
import { people, unitDbPerTest } from "../support/unit-db";

const actor: Actor = { id: null, source: "api" };
const op = (method: CrmOperation["method"], enabled: boolean): CrmOperation => ({
  enabled,
  method,
  url: "https://crm.example/people",
  headers: "",
  data: "",
  tlsVerify: true,
  timeoutSeconds: 15,
});

const database = unitDbPerTest();

async function fixture() {
  const db = await database();
  const feed = new EventFeed(db);
  const delivery = new DeliveryEngine(
    db,
    createLogger("error", () => {}),
  ); // never started: jobs stay queued
  const planner = new CrmSyncPlanner(db, delivery);
  feed.onRecord((tx, e) => planner.onEvent(tx, e));
  const addSync = async (
    o: { filter?: Partial<CrmFilter>; update?: boolean; delete?: boolean; enabled?: boolean } = {},
  ) =>
    (
      await db.transaction(async (tx) => {
        syncsChanged(db, tx);
        return tx
          .insert(crmSyncs)
          .values({
            name: "CRM",
            enabled: o.enabled ?? true,
            filter: { role: null, organizationId: null, ...o.filter },
            createOp: op("POST", true),
            updateOp: op("PUT", o.update ?? true),
            deleteOp: op("DELETE", o.delete ?? true),
          })
          .returning();
      })
    )[0]!;
  const user = async (input: Record<string, unknown>) => (await createUser(people(db, feed), input, actor)).id;
  /** The CRM calls queued, oldest first. */
  const calls = async () =>
    (
      await rowsOf<{ id: number; destination: string; ordering_key: string; status: string; payload: string }>(
        db,
        `SELECT id, destination, ordering_key, status, payload FROM delivery_jobs WHERE kind = ? ORDER BY id`,
        CRM_JOB_KIND,
      )
    ).map((j) => ({ ...j, payload: JSON.parse(j.payload) as CrmJobPayload }));
  const ops = async () => (await calls()).map((c) => `${c.payload.op}:${c.payload.userId}`);
  /** What the delivery handler does when a create succeeded: the job is done and the CRM id linked. */
  const createSucceeded = async (syncId: number, userId: number, externalId: string | null = "crm-1") => {
    const link = (await planner.links.get(db, syncId, userId))!;
    await writeRows(db, "UPDATE delivery_jobs SET status = 'succeeded' WHERE id = ?", link.createJobId);
    await db.transaction((tx) =>
      planner.links.setExternalId(tx, syncId, userId, externalId, externalId ? null : "no id in the answer"),
    );
  };
  return { db, feed, planner, addSync, user, calls, ops, createSucceeded };
}

describe("CRM planner: create and update", () => {
  test("a new person: one create call on the sync's destination, ordered per person, a link awaiting its id", async () => {
    const { db, planner, addSync, user, calls } = await fixture();
    const sync = await addSync();
    const id = await user({ email: "ada@x.com" });
    const [call] = await calls();
    expect(await calls()).toHaveLength(1);
    expect(call).toMatchObject({
      destination: `crm:${sync.id}`,
      ordering_key: `crm:${sync.id}:user:${id}`,
      status: "pending",
      payload: { op: "create", syncId: sync.id, userId: id, hop: 0 },
    });
    expect(await planner.links.get(db, sync.id, id)).toMatchObject({
      externalId: null,
      createJobId: call!.id,
      userDeleted: false,
    });
  });

  test("changes while a create or update is queued collapse into it (templates render the person at send time)", async () => {
    const { db, feed, addSync, user, ops, createSucceeded } = await fixture();
    const sync = await addSync();
    const id = await user({ email: "ada@x.com" });
    await updateUser(people(db, feed), id, { firstname: "Ada" }, actor);
    expect(await ops()).toEqual([`create:${id}`]);
    await createSucceeded(sync.id, id);
    await updateUser(people(db, feed), id, { firstname: "Ada B." }, actor);
    await updateUser(people(db, feed), id, { lastname: "Lovelace" }, actor);
    expect(await ops()).toEqual([`create:${id}`, `update:${id}`]);
    await writeRows(db, "UPDATE delivery_jobs SET status = 'succeeded'");
    await updateUser(people(db, feed), id, { lastname: "King" }, actor);
    expect(await ops()).toEqual([`create:${id}`, `update:${id}`, `update:${id}`]);
  });

  test("plan results name what happened; with updates switched off a linked person gets nothing", async () => {
    const { db, planner, addSync, user, createSucceeded } = await fixture();
    const on = await addSync();
    const off = await addSync({ update: false });
    const id = await user({ email: "ada@x.com" });
    await createSucceeded(on.id, id);
    await createSucceeded(off.id, id);
    const plan = (s: typeof on) => db.transaction(async (tx) => planner.planUpsert(tx, s, id, "event"));
    expect([await plan(on), await plan(on), await plan(off)]).toEqual(["update", "collapsed", "none"]);
  });

  test("a resync re-creates a person whose create failed or gave no id, but not while that create is queued", async () => {
    const { db, planner, addSync, user, ops, createSucceeded } = await fixture();
    const sync = await addSync();
    const id = await user({ email: "ada@x.com" });
    expect(await planner.resync(sync.id, id)).toBe("collapsed"); // the first create is still pending
    await createSucceeded(sync.id, id, null);
    expect(await planner.resync(sync.id, id)).toBe("create");
    const link = (await planner.links.get(db, sync.id, id))!;
    await writeRows(db, "UPDATE delivery_jobs SET status = 'failed' WHERE id = ?", link.createJobId);
    expect(await planner.resync(sync.id, id)).toBe("create");
    expect(await ops()).toEqual([`create:${id}`, `create:${id}`, `create:${id}`]);
    expect(planner.resync(sync.id, 999)).rejects.toThrow(/user/);
  });

  test("sync all is idempotent: linked people get an update, unlinked ones a create, and nobody twice", async () => {
    const { planner, addSync, user, ops, createSucceeded, db } = await fixture();
    const first = await user({ email: "a@x.com" });
    const sync = await addSync(); // added after the first user: they have no link yet
    const second = await user({ email: "b@x.com" });
    await createSucceeded(sync.id, second);
    expect(await planner.syncAll(sync.id)).toEqual({ users: 2, creates: 1, updates: 1, collapsed: 0, skipped: 0 });
    expect(await planner.syncAll(sync.id)).toEqual({ users: 2, creates: 0, updates: 0, collapsed: 2, skipped: 0 });
    expect(await ops()).toEqual([`create:${second}`, `create:${first}`, `update:${second}`]);
    const refreshed = (await db.select().from(crmSyncs))[0]!;
    // The second run queued nothing.
    expect(await planner.bulkProgress(refreshed)).toMatchObject({ total: 0, done: 0, failed: 0 });
  });
});

describe("CRM planner: filters", () => {
  test("a role filter plans only people with that role", async () => {
    const { addSync, user, ops } = await fixture();
    await addSync({ filter: { role: "Agent" } });
    await user({ email: "customer@x.com" });
    const agent = await user({ email: "agent@x.com", role_ids: [2] });
    expect(await ops()).toEqual([`create:${agent}`]);
  });

  test("an organization filter plans people of that organization, also when they join it later", async () => {
    const { db, feed, addSync, user, ops } = await fixture();
    const acme = (await createOrganization(db, feed, { name: "Acme" }, actor)).id;
    const other = (await createOrganization(db, feed, { name: "Other" }, actor)).id;
    await addSync({ filter: { organizationId: acme } });
    const inside = await user({ email: "in@x.com", organization_id: acme });
    const outside = await user({ email: "out@x.com", organization_id: other });
    expect(await ops()).toEqual([`create:${inside}`]);
    await updateUser(people(db, feed), outside, { organization_id: acme }, actor);
    expect(await ops()).toEqual([`create:${inside}`, `create:${outside}`]);
  });

  test("disabled syncs plan nothing; events about other objects are ignored", async () => {
    const { db, feed, addSync, user, ops } = await fixture();
    await addSync({ enabled: false });
    await user({ email: "a@x.com" });
    await createOrganization(db, feed, { name: "Acme" }, actor);
    expect(await ops()).toEqual([]);
  });
});

describe("CRM planner: delete", () => {
  test("deleting a linked person queues a delete with a snapshot (the row is gone at send time), marks it", async () => {
    const { db, feed, planner, addSync, user, calls, createSucceeded } = await fixture();
    const sync = await addSync();
    const acme = (await createOrganization(db, feed, { name: "Acme" }, actor)).id;
    const id = await user({
      email: "ada@x.com",
      firstname: "Ada",
      lastname: "Lovelace",
      phone: "+44 1",
      organization_id: acme,
      traits: { plan: "pro" },
    });
    await createSucceeded(sync.id, id);
    await deleteUser(db, feed, id, actor);
    const del = (await calls()).at(-1)!;
    expect(del.payload).toMatchObject({ op: "delete", syncId: sync.id, userId: id });
    expect(del.payload.person).toMatchObject({
      id,
      email: "ada@x.com",
      login: "ada@x.com",
      firstname: "Ada",
      lastname: "Lovelace",
      phone: "+44 1",
      organization: "Acme",
      traits: { plan: "pro" },
    });
    expect(del.ordering_key).toBe(`crm:${sync.id}:user:${id}`);
    expect(await planner.links.get(db, sync.id, id)).toMatchObject({ externalId: "crm-1", userDeleted: true });
  });

  test("with deletes switched off the link is dropped and nothing is sent; a person never synced needs nothing", async () => {
    const { db, feed, planner, addSync, user, ops, createSucceeded } = await fixture();
    const sync = await addSync({ delete: false });
    const linked = await user({ email: "a@x.com" });
    await createSucceeded(sync.id, linked);
    await deleteUser(db, feed, linked, actor);
    expect(await planner.links.get(db, sync.id, linked)).toBeNull();
    const filtered = await addSync({ filter: { role: "Admin" } });
    const nobody = await user({ email: "b@x.com" });
    await deleteUser(db, feed, nobody, actor);
    expect(await planner.links.get(db, filtered.id, nobody)).toBeNull();
    // The second entry: the create of the second person by the first sync.
    expect(await ops()).toEqual([`create:${linked}`, `create:${nobody}`]);
  });
});
