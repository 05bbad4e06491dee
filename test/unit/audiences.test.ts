import { describe, expect, test } from "bun:test";
import { asc, eq } from "drizzle-orm";
import { audienceFlags, Audiences, isMember, matches, snakeCase, type Condition } from "../../src/enrichment/audiences";
import { userEnrichments } from "../../src/enrichment/schema";
import { createUser, updateUser } from "../../src/domain/users";
import { ValidationError } from "../../src/errors";
import { EventFeed, type Actor } from "../../src/events/feed";
import { events } from "../../src/db/schema";
import { describeOnSqlite } from "../support/store";
import { people, unitDb } from "../support/unit-db";

const NOW = Date.parse("2024-06-30T12:00:00Z");
const DAY = 86_400_000;
const c = (field: string, op: Condition["op"], value?: Condition["value"]): Condition => ({ field, op, value });

describe("conditions", () => {
  const profile = {
    email: "Ada@Example.com",
    empty: "",
    none: null,
    orders: 3,
    score: "7.5",
    traits: { plan: "Pro", tags: ["Beta", "vip"], nested: { level: 2 } },
    last_seen_at: new Date(NOW - 2 * DAY).toISOString(),
  };
  const m = (cond: Condition) => matches(cond, profile, NOW);

  test("eq / neq compare as text, ignoring case; neq holds for an absent value", () => {
    expect(m(c("email", "eq", "ada@example.com"))).toBe(true);
    expect(m(c("orders", "eq", "3"))).toBe(true);
    expect(m(c("email", "eq", "bob@example.com"))).toBe(false);
    expect(m(c("missing", "eq", ""))).toBe(false);
    expect(m(c("email", "neq", "ADA@example.com"))).toBe(false);
    expect(m(c("missing", "neq", "x"))).toBe(true);
  });

  test('exists / not_exists: null, "" and a missing path are absent', () => {
    for (const field of ["empty", "none", "missing", "traits.missing", "email.deeper"]) {
      expect([field, m(c(field, "exists"))]).toEqual([field, false]);
      expect(m(c(field, "not_exists"))).toBe(true);
    }
    expect(m(c("orders", "exists"))).toBe(true);
  });

  test("dotted paths read into traits; contains finds a substring or an array element, ignoring case", () => {
    expect(m(c("traits.plan", "eq", "pro"))).toBe(true);
    expect(m(c("traits.nested.level", "gte", 2))).toBe(true);
    expect(m(c("traits.tags", "contains", "VIP"))).toBe(true);
    expect(m(c("traits.tags", "contains", "vi"))).toBe(false); // array: whole elements only
    expect(m(c("email", "contains", "EXAMPLE"))).toBe(true);
    expect(m(c("none", "contains", ""))).toBe(false);
  });

  test("gt / gte / lt / lte compare numbers, numeric text included; anything else never matches", () => {
    expect(m(c("orders", "gt", 2))).toBe(true);
    expect(m(c("orders", "gt", 3))).toBe(false);
    expect(m(c("orders", "gte", 3))).toBe(true);
    expect(m(c("orders", "lt", "10"))).toBe(true); // 3 < 10 as numbers, not as text
    expect(m(c("score", "lte", 7.5))).toBe(true);
    expect(m(c("email", "gt", 0))).toBe(false);
    expect(m(c("orders", "lt", "many"))).toBe(false);
    expect(m(c("empty", "lt", 1))).toBe(false);
    expect(m(c("missing", "lte", 1))).toBe(false);
  });

  test("within_last_days / before_last_days compare a time with now minus the days", () => {
    expect(m(c("last_seen_at", "within_last_days", 3))).toBe(true);
    expect(m(c("last_seen_at", "within_last_days", 1))).toBe(false);
    expect(m(c("last_seen_at", "before_last_days", 1))).toBe(true);
    expect(m(c("last_seen_at", "before_last_days", 3))).toBe(false);
    expect(matches(c("t", "within_last_days", 1), { t: NOW - DAY }, NOW)).toBe(true); // epoch ms
    expect(m(c("email", "within_last_days", 30))).toBe(false); // not a time
    expect(m(c("missing", "before_last_days", 30))).toBe(false);
  });

  test("match all needs every condition, match any one of them", () => {
    const conditions = [c("traits.plan", "eq", "pro"), c("orders", "gt", 10)];
    expect(isMember({ match: "all", conditions }, profile, NOW)).toBe(false);
    expect(isMember({ match: "any", conditions }, profile, NOW)).toBe(true);
    expect(isMember({ match: "any", conditions: [c("orders", "gt", 10)] }, profile, NOW)).toBe(false);
  });

  test("an audience's property is its name in Segment's snake_case", () => {
    expect(snakeCase("Order Completed Last 30 Days")).toBe("order_completed_last_30days");
    expect(snakeCase("  VIP customers!! ")).toBe("vip_customers");
    expect(snakeCase("highValueUsers")).toBe("high_value_users");
    expect(snakeCase("30 day buyers")).toBe("_30day_buyers");
  });
});

describe("membership", () => {
  const actor: Actor = { id: null, source: "api" };
  async function fixture() {
    const db = await unitDb();
    const feed = new EventFeed(db);
    const audiences = new Audiences(db, feed);
    feed.onRecord((tx, e) => audiences.onEvent(tx, e));
    const user = async (email: string, traits: Record<string, unknown> = {}) =>
      (await createUser(people(db, feed), { email, traits }, actor)).id;
    /** The flips recorded for a user: the audience events, oldest first. */
    const flips = async (userId: number) =>
      (await db.select().from(events).where(eq(events.objectId, userId)).orderBy(asc(events.id)))
        .filter((e) => e.type === "user.updated" && e.source === "system")
        .map((e) => e.changes);
    return { db, feed, audiences, user, flips };
  }

  describeOnSqlite(
    "nodes sharing a SQLite file have no NOTIFY (the NodeCache's NOTIFY path: cluster-wakeups.test.ts)",
    "nodes sharing a SQLite file",
    () => {
      test("an audience made by another node is evaluated here once this node's copy is a second old", async () => {
        const { db, audiences } = await fixture();
        // Another node on the same database: its own change feed and definitions (and cache).
        const otherFeed = new EventFeed(db);
        const other = new Audiences(db, otherFeed);
        otherFeed.onRecord((tx, e) => other.onEvent(tx, e));
        const onOther = (email: string) => createUser(people(db, otherFeed), { email, traits: { plan: "pro" } }, actor);
        const before = (await onOther("before@x.com")).id;
        await audiences.create({ name: "Pro plan", conditions: [c("traits.plan", "eq", "pro")] });
        // On SQLite (nodes sharing a file, no NOTIFY) a node reads its copy again once a second old.
        await Bun.sleep(1_100);
        const after = (await onOther("after@x.com")).id;
        expect(await audienceFlags(db, [before, after])).toEqual(
          new Map([
            [before, { pro_plan: true }],
            [after, { pro_plan: true }],
          ]),
        );
      });
    },
  );

  test("a new audience evaluates everyone: members join and each flip records user.updated with the property", async () => {
    const { db, audiences, user, flips } = await fixture();
    const pro = await user("pro@x.com", { plan: "pro" });
    const free = await user("free@x.com", { plan: "free" });
    const a = await audiences.create({ name: "Pro plan", conditions: [c("traits.plan", "eq", "pro")] });
    expect(a.key).toBe("pro_plan");
    expect(await audiences.memberCount(a.id)).toBe(1);
    expect(await flips(pro)).toEqual([{ pro_plan: [false, true] }]);
    expect(await flips(free)).toEqual([]);
    expect(await audienceFlags(db, [pro, free])).toEqual(
      new Map([
        [pro, { pro_plan: true }],
        [free, { pro_plan: false }],
      ]),
    );
  });

  test("a change to a user flips their membership both ways; a change that does not matter flips nothing", async () => {
    const { db, feed, audiences, user, flips } = await fixture();
    const id = await user("a@x.com", { plan: "free" });
    const a = await audiences.create({ name: "Pro plan", conditions: [c("traits.plan", "eq", "pro")] });
    await updateUser(people(db, feed), id, { traits: { plan: "pro" } }, actor);
    await updateUser(people(db, feed), id, { firstname: "Ada" }, actor);
    await updateUser(people(db, feed), id, { traits: { plan: "free" } }, actor);
    expect(await flips(id)).toEqual([{ pro_plan: [false, true] }, { pro_plan: [true, false] }]);
    expect(await audiences.memberCount(a.id)).toBe(0);
  });

  test("clearbit_ traits count: an enrichment answer makes a member once re-evaluated", async () => {
    const { db, audiences, user, flips } = await fixture();
    const id = await user("a@acme.com");
    await audiences.create({ name: "Acme people", conditions: [c("clearbit_company_name", "eq", "Acme")] });
    expect(await flips(id)).toEqual([]);
    await db.transaction(async (tx) =>
      tx
        .insert(userEnrichments)
        .values({ userId: id, email: "a@acme.com", person: null, company: { name: "ACME" }, checkedAt: new Date() }),
    );
    expect(await audiences.refreshAll()).toBe(1);
    expect(await flips(id)).toEqual([{ acme_people: [false, true] }]);
    expect(await audiences.refreshAll()).toBe(0);
  });

  test("renaming the property moves members (old property gone, new one true); deleting removes it", async () => {
    const { audiences, user, flips } = await fixture();
    const id = await user("a@x.com", { plan: "pro" });
    const a = await audiences.create({ name: "Pro", conditions: [c("traits.plan", "eq", "pro")] });
    await audiences.update(a.id, { name: "Paying", key: "paying", conditions: [c("traits.plan", "eq", "pro")] });
    await audiences.delete(a.id);
    expect(await flips(id)).toEqual([
      { pro: [false, true] },
      { pro: [true, null] },
      { paying: [false, true] },
      { paying: [true, null] },
    ]);
    expect(await audiences.list()).toEqual([]);
  });

  test("a property may not shadow a built-in field, a clearbit_ trait or another audience", async () => {
    const { audiences } = await fixture();
    expect(() => audiences.create({ name: "Email", conditions: [c("email", "exists")] })).toThrow(ValidationError);
    expect(() => audiences.create({ name: "Clearbit company", conditions: [c("email", "exists")] })).toThrow(
      ValidationError,
    );
    expect(() => audiences.create({ name: "x", conditions: [] })).toThrow(ValidationError);
    await audiences.create({ name: "Known", conditions: [c("email", "exists")] });
    expect(() => audiences.create({ name: "known", conditions: [c("email", "exists")] })).toThrow(/already exists/);
  });
});
