import { describe, expect, test } from "bun:test";
import { CrmSyncPlanner, CRM_JOB_KIND, type CrmJobPayload } from "../../src/crm-sync/planner";
import { crmSyncs, type CrmFilter, type CrmOperation } from "../../src/crm-sync/schema";
import { createOrganization } from "../../src/domain/organizations";
import { createUser, deleteUser, updateUser } from "../../src/domain/users";
import { DeliveryEngine } from "../../src/delivery/engine";
import { EventFeed, type Actor } from "../../src/events/feed";
import { createLogger } from "../../src/log";
import { memoryDb, people } from "../support/unit-db";

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

function fixture() {
  const db = memoryDb();
  const feed = new EventFeed(db);
  const delivery = new DeliveryEngine(
    db,
    createLogger("error", () => {}),
  ); // never started: jobs stay queued
  const planner = new CrmSyncPlanner(db, delivery);
  feed.onRecord((_tx, e) => planner.onEvent(e));
  const addSync = (o: { filter?: Partial<CrmFilter>; update?: boolean; delete?: boolean; enabled?: boolean } = {}) =>
    db
      .insert(crmSyncs)
      .values({
        name: "CRM",
        enabled: o.enabled ?? true,
        filter: { role: null, organizationId: null, ...o.filter },
        createOp: op("POST", true),
        updateOp: op("PUT", o.update ?? true),
        deleteOp: op("DELETE", o.delete ?? true),
      })
      .returning()
      .get();
  const user = (input: Record<string, unknown>) => createUser(people(db, feed), input, actor).id;
  /** The CRM calls queued, oldest first. */
  const calls = () =>
    db.$client
      .query<{ id: number; destination: string; ordering_key: string; status: string; payload: string }, []>(
        `SELECT id, destination, ordering_key, status, payload FROM delivery_jobs
         WHERE kind = '${CRM_JOB_KIND}' ORDER BY id`,
      )
      .all()
      .map((j) => ({ ...j, payload: JSON.parse(j.payload) as CrmJobPayload }));
  const ops = () => calls().map((c) => `${c.payload.op}:${c.payload.userId}`);
  /** What the delivery handler does when a create succeeded: the job is done and the CRM id linked. */
  const createSucceeded = (syncId: number, userId: number, externalId: string | null = "crm-1") => {
    const link = planner.links.get(syncId, userId)!;
    db.$client.run("UPDATE delivery_jobs SET status = 'succeeded' WHERE id = ?", [link.createJobId]);
    planner.links.setExternalId(syncId, userId, externalId, externalId ? null : "no id in the answer");
  };
  return { db, feed, planner, addSync, user, calls, ops, createSucceeded };
}

describe("CRM planner: create and update", () => {
  test("a new person: one create call on the sync's destination, ordered per person, a link awaiting its id", () => {
    const { planner, addSync, user, calls } = fixture();
    const sync = addSync();
    const id = user({ email: "ada@x.com" });
    const [call] = calls();
    expect(calls()).toHaveLength(1);
    expect(call).toMatchObject({
      destination: `crm:${sync.id}`,
      ordering_key: `crm:${sync.id}:user:${id}`,
      status: "pending",
      payload: { op: "create", syncId: sync.id, userId: id, hop: 0 },
    });
    expect(planner.links.get(sync.id, id)).toMatchObject({
      externalId: null,
      createJobId: call!.id,
      userDeleted: false,
    });
  });

  test("changes while a create or update is queued collapse into it (templates render the person at send time)", () => {
    const { db, feed, addSync, user, ops, createSucceeded } = fixture();
    const sync = addSync();
    const id = user({ email: "ada@x.com" });
    updateUser(people(db, feed), id, { firstname: "Ada" }, actor);
    expect(ops()).toEqual([`create:${id}`]);
    createSucceeded(sync.id, id);
    updateUser(people(db, feed), id, { firstname: "Ada B." }, actor);
    updateUser(people(db, feed), id, { lastname: "Lovelace" }, actor);
    expect(ops()).toEqual([`create:${id}`, `update:${id}`]);
    db.$client.run("UPDATE delivery_jobs SET status = 'succeeded'");
    updateUser(people(db, feed), id, { lastname: "King" }, actor);
    expect(ops()).toEqual([`create:${id}`, `update:${id}`, `update:${id}`]);
  });

  test("plan results name what happened; with updates switched off a linked person gets nothing", () => {
    const { db, planner, addSync, user, createSucceeded } = fixture();
    const on = addSync();
    const off = addSync({ update: false });
    const id = user({ email: "ada@x.com" });
    createSucceeded(on.id, id);
    createSucceeded(off.id, id);
    const plan = (s: typeof on) => db.transaction(() => planner.planUpsert(s, id, "event"));
    expect([plan(on), plan(on), plan(off)]).toEqual(["update", "collapsed", "none"]);
  });

  test("a resync re-creates a person whose create failed or gave no id, but not while that create is queued", () => {
    const { db, planner, addSync, user, ops, createSucceeded } = fixture();
    const sync = addSync();
    const id = user({ email: "ada@x.com" });
    expect(planner.resync(sync.id, id)).toBe("collapsed"); // the first create is still pending
    createSucceeded(sync.id, id, null);
    expect(planner.resync(sync.id, id)).toBe("create");
    const link = planner.links.get(sync.id, id)!;
    db.$client.run("UPDATE delivery_jobs SET status = 'failed' WHERE id = ?", [link.createJobId]);
    expect(planner.resync(sync.id, id)).toBe("create");
    expect(ops()).toEqual([`create:${id}`, `create:${id}`, `create:${id}`]);
    expect(() => planner.resync(sync.id, 999)).toThrow(/user/);
  });

  test("sync all is idempotent: linked people get an update, unlinked ones a create, and nobody twice", async () => {
    const { planner, addSync, user, ops, createSucceeded, db } = fixture();
    const first = user({ email: "a@x.com" });
    const sync = addSync(); // added after the first user: they have no link yet
    const second = user({ email: "b@x.com" });
    createSucceeded(sync.id, second);
    expect(await planner.syncAll(sync.id)).toEqual({ users: 2, creates: 1, updates: 1, collapsed: 0, skipped: 0 });
    expect(await planner.syncAll(sync.id)).toEqual({ users: 2, creates: 0, updates: 0, collapsed: 2, skipped: 0 });
    expect(ops()).toEqual([`create:${second}`, `create:${first}`, `update:${second}`]);
    const refreshed = db.select().from(crmSyncs).all()[0]!;
    // The second run queued nothing.
    expect(planner.bulkProgress(refreshed)).toMatchObject({ total: 0, done: 0, failed: 0 });
  });
});

describe("CRM planner: filters", () => {
  test("a role filter plans only people with that role", () => {
    const { addSync, user, ops } = fixture();
    addSync({ filter: { role: "Agent" } });
    user({ email: "customer@x.com" });
    const agent = user({ email: "agent@x.com", role_ids: [2] });
    expect(ops()).toEqual([`create:${agent}`]);
  });

  test("an organization filter plans people of that organization, also when they join it later", () => {
    const { db, feed, addSync, user, ops } = fixture();
    const acme = createOrganization(db, feed, { name: "Acme" }, actor).id;
    const other = createOrganization(db, feed, { name: "Other" }, actor).id;
    addSync({ filter: { organizationId: acme } });
    const inside = user({ email: "in@x.com", organization_id: acme });
    const outside = user({ email: "out@x.com", organization_id: other });
    expect(ops()).toEqual([`create:${inside}`]);
    updateUser(people(db, feed), outside, { organization_id: acme }, actor);
    expect(ops()).toEqual([`create:${inside}`, `create:${outside}`]);
  });

  test("disabled syncs plan nothing; events about other objects are ignored", () => {
    const { db, feed, addSync, user, ops } = fixture();
    addSync({ enabled: false });
    user({ email: "a@x.com" });
    createOrganization(db, feed, { name: "Acme" }, actor);
    expect(ops()).toEqual([]);
  });
});

describe("CRM planner: delete", () => {
  test("deleting a linked person queues a delete with a snapshot (the row is gone at send time), marks it", () => {
    const { db, feed, planner, addSync, user, calls, createSucceeded } = fixture();
    const sync = addSync();
    const acme = createOrganization(db, feed, { name: "Acme" }, actor).id;
    const id = user({
      email: "ada@x.com",
      firstname: "Ada",
      lastname: "Lovelace",
      phone: "+44 1",
      organization_id: acme,
      traits: { plan: "pro" },
    });
    createSucceeded(sync.id, id);
    deleteUser(db, feed, id, actor);
    const del = calls().at(-1)!;
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
    expect(planner.links.get(sync.id, id)).toMatchObject({ externalId: "crm-1", userDeleted: true });
  });

  test("with deletes switched off the link is dropped and nothing is sent; a person never synced needs nothing", () => {
    const { db, feed, planner, addSync, user, ops, createSucceeded } = fixture();
    const sync = addSync({ delete: false });
    const linked = user({ email: "a@x.com" });
    createSucceeded(sync.id, linked);
    deleteUser(db, feed, linked, actor);
    expect(planner.links.get(sync.id, linked)).toBeNull();
    const filtered = addSync({ filter: { role: "Admin" } });
    const nobody = user({ email: "b@x.com" });
    deleteUser(db, feed, nobody, actor);
    expect(planner.links.get(filtered.id, nobody)).toBeNull();
    // The second entry: the create of the second person by the first sync.
    expect(ops()).toEqual([`create:${linked}`, `create:${nobody}`]);
  });
});
