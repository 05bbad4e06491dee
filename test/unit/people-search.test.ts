import { describe, expect, test } from "bun:test";
import { PersonFields } from "../../src/domain/person-fields";
import {
  BROAD_SEARCH,
  createUserIn,
  listUsers,
  searchCondition,
  searchKind,
  searchPlan,
  type UserListQuery,
} from "../../src/domain/users";
import { users } from "../../src/db/schema";
import { EventFeed, type Actor } from "../../src/events/feed";
import { asc, sql } from "drizzle-orm";
import { unitDb } from "../support/unit-db";

const actor: Actor = { id: null, source: "import" };
const FIRST = ["James", "Mary", "John", "Ana"];
const SMITHS = BROAD_SEARCH + 100;

describe("people search", async () => {
  const db = await unitDb();
  const feed = new EventFeed(db);
  await db.transaction(async (tx) => {
    const add = (data: Record<string, unknown>) => createUserIn(tx, feed, data, [], actor);
    for (let i = 0; i < SMITHS + 20; i++) {
      const first = FIRST[i % FIRST.length]!;
      const last = i < SMITHS ? "Smith" : `Zed${i}`;
      await add({
        firstname: first,
        lastname: last,
        email: `${first}.${last}.${i}@example-${i % 50}.com`.toLowerCase(),
      });
    }
    await add({ firstname: "Ada", lastname: "Lovelace", email: "ada@acme.com" });
    await add({ firstname: "Bob", lastname: "Acme", email: "bob@acme.com" });
    await add({ firstname: "Carol", lastname: "Byron", email: "carol@acme.co.uk" });
  });
  const ctx = { db, personFields: new PersonFields() };
  const search = async (q: string, more: Partial<UserListQuery> = {}) =>
    (await listUsers(ctx, { q, sort: "name", limit: 50, ...more })).data.map((u) => u.email);

  test("typed input is read as an email, a domain fragment or words", () => {
    expect(searchKind(" Ada@Acme.com ")).toEqual({ kind: "email", address: "ada@acme.com" });
    expect(searchKind("@acme")).toEqual({ kind: "domain", prefix: "acme" });
    expect(searchKind("acme.com")).toEqual({ kind: "email-or-domain", prefix: "acme.com" });
    expect(searchKind("smith")).toEqual({ kind: "words", match: '"smith"*' });
    expect(searchKind("garcia mar")).toEqual({ kind: "words", match: '"garcia"* "mar"*' });
    expect(searchKind("  ")).toBeNull();
  });

  test("the match count picks the plan: broad searches walk the name index, narrow ones sort their matches", async () => {
    expect([searchPlan(BROAD_SEARCH - 1), searchPlan(BROAD_SEARCH)]).toEqual(["few", "broad"]);
    const planOf = async (q: string) => {
      const { plan, condition } = await searchCondition(db, searchKind(q)!);
      const query = db
        .select({ id: users.id })
        .from(users)
        .where(condition)
        .orderBy(asc(sql`coalesce(${users.lastname}, '')`), asc(sql`coalesce(${users.firstname}, '')`), asc(users.id))
        .limit(51)
        .toSQL();
      const steps = db.$client
        .query(`EXPLAIN QUERY PLAN ${query.sql}`)
        .all(...(query.params as string[]))
        .map((r) => (r as { detail: string }).detail)
        .join("\n");
      return {
        plan,
        sortsAll: steps.includes("TEMP B-TREE FOR ORDER BY"),
        nameIndex: steps.includes("users_name_sort_idx"),
      };
    };
    expect(await planOf("smith")).toEqual({ plan: "broad", sortsAll: false, nameIndex: true });
    expect(await planOf("@example")).toEqual({ plan: "broad", sortsAll: false, nameIndex: true });
    expect(await planOf("zed")).toEqual({ plan: "few", sortsAll: true, nameIndex: false });
    expect(await planOf("ada@acme.com")).toEqual({ plan: "few", sortsAll: true, nameIndex: false });
  });

  test("a full email finds exactly that person, not everyone sharing its words", async () => {
    expect(await search("james.smith.4@example-4.com")).toEqual(["james.smith.4@example-4.com"]);
    expect(await search("ADA@acme.com", { sort: "id" })).toEqual(["ada@acme.com"]);
  });

  test("the start of an email finds the addresses that start with it", async () => {
    expect(await search("james.smith.40@")).toEqual(["james.smith.40@example-40.com"]);
    expect(await search("ada@acme.c")).toEqual(["ada@acme.com"]);
  });

  test("a domain fragment finds the people of that domain", async () => {
    expect((await search("@acme")).sort()).toEqual(["ada@acme.com", "bob@acme.com", "carol@acme.co.uk"]);
    expect((await search("acme.com")).sort()).toEqual(["ada@acme.com", "bob@acme.com"]);
    expect(await search("@example-49.com", { limit: 100 })).toHaveLength(Math.ceil((SMITHS + 20 - 49) / 50));
  });

  test("common words still find people, by name and page by page", async () => {
    const smiths = await listUsers(ctx, { q: "smith", sort: "name", limit: 50 });
    expect(smiths.data).toHaveLength(50);
    expect(smiths.data.every((u) => u.lastname === "Smith")).toBe(true);
    expect(smiths.data.map((u) => u.firstname)).toEqual([...smiths.data.map((u) => u.firstname)].sort());
    const next = await listUsers(ctx, { q: "smith", sort: "name", limit: 50, cursor: smiths.next_cursor! });
    expect(next.data[0]!.id).not.toBe(smiths.data[49]!.id);
    expect(await search("lovelace")).toEqual(["ada@acme.com"]);
    expect((await search("mary zed")).length).toBe(5);
  });
});
