/**
 * Evidence for "one query code for both dialects" (docs/architecture.md, "PostgreSQL driver"): queries
 * built from our SQLite table objects, through drizzle's postgres-js driver, on a database migrated
 * with migrations-pg/, read and write the same values as on SQLite: numbers for ids and counts, Date
 * for timestamps, booleans, parsed JSON, Buffers. Bun's SQL client, by contrast, cannot run them.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { and, asc, count, desc, eq, gt, inArray, isNull, sql } from "drizzle-orm";
import { drizzle as bunSql } from "drizzle-orm/bun-sql";
import { drizzle } from "drizzle-orm/postgres-js";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { openPostgres, type PostgresClient } from "../../src/db/pg-client";
import { migratePostgres } from "../../src/db/pg-migrate";
import { attachments, articles, organizations, settings, tickets, userRoles, users } from "../../src/db/schema";
import { deliveryJobs } from "../../src/delivery/schema";
import { POSTGRES_TEST_TIMEOUT, postgresDatabase } from "../support/postgres";

setDefaultTimeout(POSTGRES_TEST_TIMEOUT);

let client: PostgresClient;
let url: string;
/** Typed as the SQLite database our modules use: the same builders, awaited, run on PostgreSQL. */
let db: BunSQLiteDatabase;

beforeAll(async () => {
  url = await postgresDatabase();
  client = openPostgres(url);
  await migratePostgres(client);
  db = drizzle({ client }) as unknown as BunSQLiteDatabase;
});
afterAll(() => client.end());

describe("SQLite table objects on PostgreSQL through postgres.js", () => {
  let orgId: number;
  let userIds: number[];
  const seen = new Date(1_765_000_000_123);

  test("insert … returning: identity ids, column defaults, booleans, JSON and Date", async () => {
    const [org] = await db.insert(organizations).values({ name: "Acme", domain: "acme.com" }).returning();
    expect(org).toMatchObject({ name: "Acme", domainAssignment: false, shared: true, active: true, custom: {} });
    expect(typeof org?.id).toBe("number");
    expect(org?.createdAt).toBeInstanceOf(Date);
    expect(Math.abs(Date.now() - (org?.createdAt.getTime() ?? 0))).toBeLessThan(60_000);
    orgId = org?.id ?? 0;

    const rows = await db
      .insert(users)
      .values([
        {
          login: "ada",
          email: "ada@acme.com",
          lastname: "Lovelace",
          organizationId: orgId,
          vip: true,
          lastSeenAt: seen,
        },
        { login: "alan", email: "alan@acme.com", lastname: "Turing", traits: { plan: "pro", seats: 3 } },
        { login: "grace", email: "grace@navy.mil", lastname: "Hopper" },
      ])
      .returning({ id: users.id, vip: users.vip, lastSeenAt: users.lastSeenAt, traits: users.traits });
    userIds = rows.map((r) => r.id);
    expect(rows.map((r) => typeof r.id)).toEqual(["number", "number", "number"]);
    expect(rows[0]).toMatchObject({ vip: true, lastSeenAt: seen });
    expect(rows[1]).toMatchObject({ vip: false, lastSeenAt: null, traits: { plan: "pro", seats: 3 } });
  });

  test("select with where, orderBy, limit and a keyset cursor", async () => {
    const nameKey = sql`coalesce(${users.lastname}, '')`;
    const first = await db.select().from(users).orderBy(asc(nameKey), asc(users.id)).limit(2);
    expect(first.map((u) => u.login)).toEqual(["grace", "ada"]);
    expect(first[1]).toMatchObject({ vip: true, lastSeenAt: seen, organizationId: orgId, custom: {} });
    const last = first.at(-1);
    const next = await db
      .select({ login: users.login })
      .from(users)
      .where(sql`(${nameKey}, ${users.id}) > (${last?.lastname ?? ""}, ${last?.id ?? 0})`)
      .orderBy(asc(nameKey), asc(users.id))
      .limit(2);
    expect(next.map((u) => u.login)).toEqual(["alan"]);
    const vips = await db
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.vip, true), isNull(users.note)));
    expect(vips).toEqual([{ id: userIds[0] as number }]);
  });

  test("joins, aggregates and sql fragments map like SQLite's", async () => {
    const perOrg = await db
      .select({ name: organizations.name, people: count(users.id) })
      .from(organizations)
      .leftJoin(users, eq(users.organizationId, organizations.id))
      .groupBy(organizations.id);
    expect(perOrg).toEqual([{ name: "Acme", people: 1 }]);
    const [{ n } = { n: -1 }] = await db.select({ n: sql<number>`count(*)` }).from(users);
    expect(n).toBe(3);
    const byLower = await db
      .select({ id: organizations.id })
      .from(organizations)
      .where(sql`lower(${organizations.name}) = 'acme'`);
    expect(byLower).toEqual([{ id: orgId }]);
    const some = await db
      .select({ login: users.login })
      .from(users)
      .where(inArray(users.id, userIds.slice(0, 2)))
      .orderBy(desc(users.id));
    expect(some.map((u) => u.login)).toEqual(["alan", "ada"]);
  });

  test("onConflictDoUpdate, update … returning, delete … returning", async () => {
    const upsert = (value: unknown) =>
      db
        .insert(settings)
        .values({ key: "ui.theme", value, updatedAt: seen })
        .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: sql`excluded.updated_at + 1` } })
        .returning();
    expect(await upsert({ dark: false })).toEqual([{ key: "ui.theme", value: { dark: false }, updatedAt: seen }]);
    expect(await upsert({ dark: true })).toEqual([
      { key: "ui.theme", value: { dark: true }, updatedAt: new Date(seen.getTime() + 1) },
    ]);
    await db
      .insert(userRoles)
      .values({ userId: userIds[2] as number, roleId: 3 })
      .onConflictDoNothing();
    await db
      .insert(userRoles)
      .values({ userId: userIds[2] as number, roleId: 3 })
      .onConflictDoNothing();

    const updated = await db
      .update(users)
      .set({ vip: false, note: "moved", custom: { tier: 2 } })
      .where(eq(users.login, "ada"))
      .returning({ vip: users.vip, note: users.note, custom: users.custom });
    expect(updated).toEqual([{ vip: false, note: "moved", custom: { tier: 2 } }]);

    const deleted = await db.delete(users).where(eq(users.login, "grace")).returning({ id: users.id });
    expect(deleted).toEqual([{ id: userIds[2] as number }]);
    expect(await db.select().from(userRoles)).toEqual([]); // ON DELETE CASCADE from the mirror's foreign key
  });

  test("transactions commit, roll back on a throw, and see their own writes", async () => {
    await db.transaction(async (tx) => {
      await tx.insert(deliveryJobs).values({
        kind: "webhook",
        destination: "webhook:1",
        payload: { a: 1 },
        maxAttempts: 5,
        runAt: seen,
        deliveryId: "d1",
      });
      const pending = await tx
        .select({
          id: deliveryJobs.id,
          status: deliveryJobs.status,
          blocked: deliveryJobs.blocked,
          payload: deliveryJobs.payload,
        })
        .from(deliveryJobs)
        .where(
          and(eq(deliveryJobs.status, "pending"), eq(deliveryJobs.blocked, false), gt(deliveryJobs.runAt, new Date(0))),
        );
      expect(pending).toMatchObject([{ status: "pending", blocked: false, payload: { a: 1 } }]);
    });
    const failing = db.transaction(async (tx) => {
      await tx.insert(deliveryJobs).values({
        kind: "webhook",
        destination: "webhook:1",
        payload: {},
        maxAttempts: 5,
        runAt: seen,
        deliveryId: "d2",
      });
      throw new Error("rolled back");
    });
    await expect(failing).rejects.toThrow("rolled back");
    expect((await db.select({ d: deliveryJobs.deliveryId }).from(deliveryJobs)).map((r) => r.d)).toEqual(["d1"]);
  });

  test("blobs come back as Buffers", async () => {
    const [ticket] = await db
      .insert(tickets)
      .values({ number: "1001", title: "t", stateId: 1, priorityId: 2, customerId: userIds[0] as number })
      .returning({ id: tickets.id });
    const [article] = await db
      .insert(articles)
      .values({ ticketId: ticket?.id as number, type: "note", sender: "Agent", body: "b" })
      .returning({ id: articles.id });
    const data = Buffer.from([0, 1, 2, 255]);
    await db.insert(attachments).values({
      articleId: article?.id as number,
      filename: "f.bin",
      size: 4,
      contentType: "application/octet-stream",
      sha256: "x",
      data,
    });
    const [row] = await db.select({ data: attachments.data }).from(attachments);
    expect(Buffer.isBuffer(row?.data)).toBe(true);
    expect(row?.data.equals(data)).toBe(true);
  });
});

describe("Bun's SQL client cannot run the same queries (why the driver is postgres.js)", () => {
  test("booleans are sent as typed integers, int8 comes back as text (an invalid Date)", async () => {
    const bun = new SQL(url);
    const viaBun = bunSql({ client: bun }) as unknown as BunSQLiteDatabase;
    await expect((async () => await viaBun.insert(users).values({ login: "bun", vip: true }))()).rejects.toThrow();
    const [row] = await viaBun.select({ id: users.id, createdAt: users.createdAt }).from(users).limit(1);
    expect(typeof row?.id).toBe("string");
    expect(Number.isNaN(row?.createdAt.getTime())).toBe(true);
    await bun.close();
  });
});
