import { describe, expect, test } from "bun:test";
import { PersonFields } from "../../src/domain/person-fields";
import { createOrganizationIn } from "../../src/domain/organizations";
import {
  BROAD_SEARCH,
  countUsers,
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
import { describeOnSqlite, writeRows } from "../support/store";
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

  test("a search alone is counted from its own index, stopping at the cap", async () => {
    expect(await countUsers(db, { q: "smith" })).toEqual({ count: SMITHS, capped: false });
    expect(await countUsers(db, { q: "mary zed" })).toEqual({ count: 5, capped: false });
    expect(await countUsers(db, { q: "@acme" })).toEqual({ count: 3, capped: false });
    expect(await countUsers(db, { q: "j" })).toEqual({ count: SMITHS / 2 + 10, capped: false });
  });

  test("with a matching organization, its members are counted once with the people the words find", async () => {
    const own = await unitDb();
    const ownFeed = new EventFeed(own);
    await own.transaction(async (tx) => {
      const org = await createOrganizationIn(tx, ownFeed, { name: "Lovelace Labs" }, [], actor);
      await createUserIn(
        tx,
        ownFeed,
        { firstname: "Ada", lastname: "Lovelace", login: "ada", organization_id: org.id },
        [],
        actor,
      );
      await createUserIn(
        tx,
        ownFeed,
        { firstname: "Bob", lastname: "Byron", login: "bob", organization_id: org.id },
        [],
        actor,
      );
      await createUserIn(tx, ownFeed, { firstname: "Eve", lastname: "Lovelace", login: "eve" }, [], actor);
    });
    expect(await countUsers(own, { q: "lovelace" })).toEqual({ count: 3, capped: false });
    const found = await listUsers({ db: own, personFields: new PersonFields() }, { q: "lovelace", limit: 50 });
    expect(found.data.map((u) => u.firstname)).toEqual(["Ada", "Bob", "Eve"]);
    // Sorted by name (a walk of the name index: all three match), the organization's member is there too.
    const ownCtx = { db: own, personFields: new PersonFields() };
    const named = await pagesByName("lovelace", "asc", 4, 1, ownCtx);
    expect(named).toEqual(await byName("lovelace", ownCtx));
    expect(named).toHaveLength(3);
  });

  test("by id, a search alone pages through its own index in id order", async () => {
    const seen: number[] = [];
    for (const order of ["asc", "desc"] as const) {
      let cursor: string | undefined;
      const ids: number[] = [];
      do {
        const page = await listUsers(ctx, { q: "smith", limit: 500, order, ...(cursor ? { cursor } : {}) });
        ids.push(...page.data.map((u) => u.id));
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      expect(ids).toHaveLength(SMITHS);
      expect(new Set(ids).size).toBe(SMITHS);
      expect(ids).toEqual([...ids].sort((a, b) => (order === "asc" ? a - b : b - a)));
      seen.push(ids[0]!);
    }
    expect(seen[0]).toBeLessThan(seen[1]!);
  });

  /** Every person a search matches (read in id order), sorted by name as the list sorts: the expected pages. */
  async function byName(q: string, on = ctx) {
    const all: Awaited<ReturnType<typeof listUsers>>["data"] = [];
    let cursor: string | undefined;
    do {
      const page = await listUsers(on, { q, limit: 500, ...(cursor ? { cursor } : {}) });
      all.push(...page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    const key = (u: (typeof all)[number]) => [u.lastname ?? "", u.firstname ?? "", u.id] as const;
    return all
      .sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : x[2] - y[2];
      })
      .map((u) => u.id);
  }
  /** The first `pages` pages of a search sorted by name, in `order`, following the cursors. */
  async function pagesByName(q: string, order: "asc" | "desc", pages = 3, limit = 50, on = ctx) {
    const ids: number[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < pages; i++) {
      const page = await listUsers(on, { q, sort: "name", order, limit, ...(cursor ? { cursor } : {}) });
      ids.push(...page.data.map((u) => u.id));
      cursor = page.next_cursor ?? undefined;
      if (!cursor) break;
    }
    return ids;
  }

  test("sorted by name, every kind of search pages through exactly its matches in name order", async () => {
    // Broad ones walk the name index ("j", "smith", "a"), narrow ones sort their matches ("zed", "james zed").
    for (const q of ["j", "jo", "smith", "a", "mary", "james sm", "zed", "mary zed", "lovelace", "acme", "@acme"]) {
      const expected = await byName(q);
      expect([q, await pagesByName(q, "asc")]).toEqual([q, expected.slice(0, 150)]);
      expect([q, await pagesByName(q, "desc", 2)]).toEqual([q, expected.reverse().slice(0, 100)]);
    }
  }, 30_000);

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

  describeOnSqlite(
    "SQLite's query plans and FTS5's DDL: the PostgreSQL plans are checked by bench/pg-search.ts",
    "people search's SQLite plans",
    () => {
      /** The SQL texts `work` prepares on the connection. */
      async function statementsOf(work: () => Promise<unknown>): Promise<string[]> {
        const client = db.$client;
        const prepare = client.prepare.bind(client);
        const texts: string[] = [];
        client.prepare = ((text: string) => {
          texts.push(text);
          return prepare(text);
        }) as typeof client.prepare;
        try {
          await work();
        } finally {
          client.prepare = prepare;
        }
        return texts;
      }
      const planOf = (text: string) =>
        db.$client
          .query(`EXPLAIN QUERY PLAN ${text}`)
          .all()
          .map((r) => (r as { detail: string }).detail);

      test("the match count picks the plan: broad searches walk the name index, narrow ones sort their matches", async () => {
        expect([searchPlan(BROAD_SEARCH - 1), searchPlan(BROAD_SEARCH)]).toEqual(["few", "broad"]);
        const planOf = async (q: string) => {
          const { plan, condition } = await searchCondition(db, searchKind(q)!);
          const query = db
            .select({ id: users.id })
            .from(users)
            .where(condition)
            .orderBy(
              asc(sql`coalesce(${users.lastname}, '')`),
              asc(sql`coalesce(${users.firstname}, '')`),
              asc(users.id),
            )
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

      test("a search alone is counted from FTS5's own index, never reading users", async () => {
        const [count] = (await statementsOf(() => countUsers(db, { q: "smith" }))).filter((t) => t.includes("count("));
        expect(planOf(count!).some((step) => step.includes("users_fts"))).toBe(true);
        expect(planOf(count!).filter((step) => / users\b| users_[a-z]+_idx/.test(step))).toEqual([]);
      });

      test("1- to 4-letter words have prefix indexes, so a count stopped at its cap stops reading too", () => {
        const ddl = (name: string) =>
          (db.$client.query("SELECT sql FROM sqlite_master WHERE name = ?").get(name) as { sql: string }).sql;
        expect(ddl("users_fts")).toContain("prefix='1 2 3 4'");
        expect(ddl("organizations_fts")).toContain("prefix='1 2 3 4'");
      });

      test("by id, a search alone's page stops in FTS5's rowid order: no sort, no whole match set", async () => {
        const ran = await statementsOf(() => listUsers(ctx, { q: "smith", limit: 50 }));
        const page = planOf(ran.find((text) => text.startsWith('select "id"'))!).join("\n");
        // FTS5 answers in rowid order (index flag 64) and the page stops there: no sort, no whole match set.
        expect(page).toMatch(/users_fts VIRTUAL TABLE INDEX 64:/);
        expect(page).not.toContain("TEMP B-TREE");
        expect(page).not.toContain("BLOOM FILTER");
      });
    },
  );
});

describeOnSqlite("the plans are SQLite's query plans", "people search sorted by name: the plan", async () => {
  const db = await unitDb();
  const feed = new EventFeed(db);
  await db.transaction(async (tx) => {
    for (let i = 0; i < 400; i++) {
      const first = FIRST[i % FIRST.length]!;
      const last = i < 390 ? "Smith" : `Zed${i}`;
      await createUserIn(tx, feed, { firstname: first, lastname: last, email: `p${i}@example.com` }, [], actor);
    }
  });
  const ctx = { db, personFields: new PersonFields() };
  /** The query plan of each statement a by-name search runs. */
  async function plansOf(q: string) {
    const client = db.$client;
    const prepare = client.prepare.bind(client);
    const plans: string[] = [];
    client.prepare = ((text: string) => {
      if (/^\s*select/i.test(text))
        plans.push(
          client
            .query(`EXPLAIN QUERY PLAN ${text}`)
            .all(...([] as never[]))
            .map((r) => (r as { detail: string }).detail)
            .join("\n"),
        );
      return prepare(text);
    }) as typeof client.prepare;
    try {
      await listUsers(ctx, { q, sort: "name", limit: 50 });
    } finally {
      client.prepare = prepare;
    }
    return plans;
  }

  test("a broad search walks the name index alone and stops after a page; a narrow one sorts its matches", async () => {
    const walk = (await plansOf("j")).find((plan) => plan.includes("walked"))!;
    expect(walk).toContain("SCAN users USING COVERING INDEX users_name_sort_idx");
    expect(walk).not.toContain("TEMP B-TREE");
    const narrow = await plansOf("zed");
    expect(narrow.some((plan) => plan.includes("walked"))).toBe(false);
    expect(narrow.some((plan) => plan.includes("users_fts") && plan.includes("TEMP B-TREE FOR ORDER BY"))).toBe(true);
  });

  test("a row whose words were written around the app (left null) is still found by the walk", async () => {
    const [{ id }] = (await db.$client.query("SELECT id FROM users WHERE lastname = 'Zed399'").all()) as [
      { id: number },
    ];
    await writeRows(db, "UPDATE users SET lastname = 'Aardvark', firstname = 'Jo' WHERE id = ?", id);
    expect(db.$client.query("SELECT name_words FROM users WHERE id = ?").get(id)).toEqual({ name_words: null });
    const first = (await listUsers(ctx, { q: "j", sort: "name", limit: 50 })).data[0]!;
    expect([first.id, first.lastname]).toEqual([id, "Aardvark"]);
    expect((await plansOf("j")).some((plan) => plan.includes("walked"))).toBe(true);
  });
});
