import { NodeCache } from "../cluster/node-cache";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { COMPARISONS, conditionHolds, conditionsHold, type Match } from "../conditions";
import type { Db, Tx, DbOrTx } from "../db/client";
import { preparedFor } from "../db/prepared";
import { users } from "../db/schema";
import { apiValues, listCustomFields, RESERVED_NAMES } from "../domain/custom-fields";
import { COLUMN_OF, type UserRow } from "../domain/users";
import { conflict, notFound, validate, ValidationError } from "../errors";
import type { Actor, ChangeEvent, EventFeed } from "../events/feed";
import { traitsByUser } from "./clearbit";
import { audienceMembers, audiences } from "./schema";

/**
 * Segment Engage-style audiences: conditions over user fields and traits (clearbit_ traits
 * included). Membership is kept current as users change and shown on the user as a boolean
 * snake_cased property (order_completed_last_30days: true/false); a flip records user.updated.
 */
/** The operators an audience offers: the shared language's (src/conditions.ts), is/is_not spelled eq/neq. */
export const OPERATORS = ["eq", "neq", "contains", ...COMPARISONS] as const;

const conditionSchema = z.strictObject({
  field: z
    .string()
    .trim()
    .regex(
      /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+){0,5}$/,
      "must be a field name or a dotted path such as traits.plan",
    ),
  op: z.enum(OPERATORS),
  value: z
    .union([z.string().max(500), z.number(), z.boolean()])
    .nullable()
    .optional(),
});
export type Condition = z.infer<typeof conditionSchema>;

export const snakeCase = (name: string) =>
  name
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    // Segment's style: a number joins the word after it (last_30days).
    .replace(/(\d)_(?=[a-z])/g, "$1")
    .replace(/^(\d)/, "_$1");

export const audienceInput = z.strictObject({
  name: z.string().trim().min(1, "is required").max(100),
  key: z
    .string()
    .trim()
    .regex(/^[a-z][a-z0-9_]{0,62}$/, "must be snake_case")
    .optional(),
  match: z.enum(["all", "any"]).optional().default("all"),
  conditions: z.array(conditionSchema).min(1, "needs at least one condition").max(20),
});

export type Audience = typeof audiences.$inferSelect;
const SYSTEM: Actor = { id: null, source: "system" };

export function audienceJson(a: Audience, members?: number) {
  return {
    id: a.id,
    name: a.name,
    key: a.key,
    match: a.match,
    conditions: a.conditions,
    ...(members !== undefined ? { member_count: members } : {}),
    created_at: a.createdAt.toISOString(),
    updated_at: a.updatedAt.toISOString(),
  };
}

/** What conditions read: the user's fields, custom fields, traits and clearbit_ traits. */
export async function profileOf(db: DbOrTx, row: UserRow): Promise<Record<string, unknown>> {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: row.id,
    ...apiValues(row, COLUMN_OF, []),
    last_seen_at: iso(row.lastSeenAt),
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
    ...row.custom,
    traits: row.traits,
    ...((await traitsByUser(db, [row.id])).get(row.id) ?? {}),
  };
}

export function matches(c: Condition, profile: Record<string, unknown>, now = Date.now()): boolean {
  return conditionHolds(c, profile, { now });
}

export function isMember(
  a: Pick<Audience, "match" | "conditions">,
  profile: Record<string, unknown>,
  now = Date.now(),
): boolean {
  return conditionsHold(a.match as Match, a.conditions as Condition[], profile, { now });
}

/** The ids of an audience's members. */
const memberIds = async (db: DbOrTx, audienceId: number) =>
  (
    await db
      .select({ userId: audienceMembers.userId })
      .from(audienceMembers)
      .where(eq(audienceMembers.audienceId, audienceId))
  ).map((m) => m.userId);

/** The audiences of one app: definitions (a NodeCache), membership upkeep, the event consumer. */
export class Audiences {
  private readonly definitions: NodeCache<Audience[]>;

  constructor(
    private readonly db: Db,
    private readonly feed: EventFeed,
  ) {
    this.definitions = new NodeCache(db, "audiences", () => db.select().from(audiences).orderBy(asc(audiences.name)));
  }

  list(): Promise<Audience[]> {
    return this.definitions.get();
  }

  async get(id: number): Promise<Audience> {
    const a = (await this.list()).find((x) => x.id === id);
    if (!a) throw notFound("audience");
    return a;
  }

  async memberCount(id: number): Promise<number> {
    return (await memberIds(this.db, id)).length;
  }

  private async validated(input: unknown) {
    const d = validate(audienceInput, input);
    const key = d.key ?? snakeCase(d.name);
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(key))
      throw new ValidationError([{ field: "name", message: "must contain letters or digits" }]);
    if (RESERVED_NAMES.has(key) || key.startsWith("clearbit_"))
      throw new ValidationError([{ field: "key", message: `"${key}" is a built-in field name` }]);
    if ((await listCustomFields(this.db, "user")).some((f) => f.name === key))
      throw new ValidationError([{ field: "key", message: `"${key}" is a custom field's name` }]);
    return { ...d, key };
  }

  private async assertKeyFree(key: string): Promise<void> {
    if ((await this.list()).some((a) => a.key === key))
      throw conflict(`an audience with the property ${key} already exists`, [
        { field: "key", message: "already taken" },
      ]);
  }

  /** Every member loses the audience's property (the audience goes, or its property is renamed). */
  private async recordMembersLeaving(tx: Tx, a: Audience): Promise<void> {
    for (const userId of await memberIds(tx, a.id)) await this.recordPropertyChange(tx, userId, a.key, true, null);
  }

  /** A user's audience property changed: joined (true), left (false) or gone with its audience (null). */
  private async recordPropertyChange(
    tx: Tx,
    userId: number,
    key: string,
    from: boolean,
    to: boolean | null,
  ): Promise<void> {
    await this.feed.record(tx, {
      type: "user.updated",
      objectType: "user",
      objectId: userId,
      changes: { [key]: [from, to] },
      actor: SYSTEM,
    });
  }

  async create(input: unknown): Promise<Audience> {
    const d = await this.validated(input);
    await this.assertKeyFree(d.key);
    const row = await this.db.transaction(async (tx) => {
      const a = (
        await tx
          .insert(audiences)
          .values({ name: d.name, key: d.key, match: d.match, conditions: d.conditions })
          .returning()
      )[0]!;
      return await this.saved(tx, a);
    });
    return row;
  }

  async update(id: number, input: unknown): Promise<Audience> {
    const before = await this.get(id);
    const d = await this.validated({ key: before.key, ...(input as object) });
    if (d.key !== before.key) await this.assertKeyFree(d.key);
    return await this.db.transaction(async (tx) => {
      if (d.key !== before.key) {
        // The old property goes away for members: they leave it, and join under the new name.
        await this.recordMembersLeaving(tx, before);
        await tx.delete(audienceMembers).where(eq(audienceMembers.audienceId, id));
      }
      const a = (
        await tx
          .update(audiences)
          .set({ name: d.name, key: d.key, match: d.match, conditions: d.conditions, updatedAt: new Date() })
          .where(eq(audiences.id, id))
          .returning()
      )[0]!;
      return await this.saved(tx, a);
    });
  }

  async delete(id: number): Promise<void> {
    const a = await this.get(id);
    await this.db.transaction(async (tx) => {
      await this.recordMembersLeaving(tx, a);
      await tx.delete(audiences).where(eq(audiences.id, id));
      this.forget(tx);
    });
  }

  /** A written audience: its members brought up to date. */
  private async saved(tx: Tx, a: Audience): Promise<Audience> {
    this.forget(tx);
    await this.refreshAudience(tx, a);
    return a;
  }

  /** The definitions are read again, here and on every node, once the write commits. */
  private forget(tx: Tx): void {
    this.definitions.changed(tx);
  }

  /** Re-evaluates every user for one audience (on create and update). */
  private async refreshAudience(tx: Tx, a: Audience): Promise<number> {
    let flips = 0;
    const members = new Set(await memberIds(tx, a.id));
    const now = Date.now();
    for (const row of await tx.select().from(users))
      flips += await this.setMembership(tx, a, row.id, members.has(row.id), isMember(a, await profileOf(tx, row), now));
    return flips;
  }

  /** Every user against every audience (time-based conditions drift): the hourly schedule calls this. */
  async refreshAll(): Promise<number> {
    if (!(await this.list()).length) return 0;
    const all = await this.list();
    return await this.db.transaction(async (tx) => {
      let flips = 0;
      for (const a of all) flips += await this.refreshAudience(tx, a);
      return flips;
    });
  }

  private async setMembership(tx: Tx, a: Audience, userId: number, was: boolean, now: boolean): Promise<number> {
    if (was === now) return 0;
    if (now) await tx.insert(audienceMembers).values({ audienceId: a.id, userId }).onConflictDoNothing();
    else
      await tx
        .delete(audienceMembers)
        .where(and(eq(audienceMembers.audienceId, a.id), eq(audienceMembers.userId, userId)));
    await this.recordPropertyChange(tx, userId, a.key, was, now);
    return 1;
  }

  /** The event consumer: a changed or enriched user is re-evaluated against every audience. */
  async onEvent(tx: Tx, e: ChangeEvent): Promise<void> {
    if (e.objectType !== "user" || e.type === "user.deleted") return;
    const list = await this.list();
    if (!list.length) return;
    const keys = new Set(list.map((a) => a.key));
    const changed = Object.keys(e.changes);
    if (changed.length && changed.every((k) => keys.has(k))) return; // our own flip
    const row = (await tx.select().from(users).where(eq(users.id, e.objectId)).limit(1))[0];
    if (!row) return;
    const profile = await profileOf(tx, row);
    const current = new Set(
      (
        await tx
          .select({ id: audienceMembers.audienceId })
          .from(audienceMembers)
          .where(eq(audienceMembers.userId, row.id))
      ).map((m) => m.id),
    );
    for (const a of list) await this.setMembership(tx, a, row.id, current.has(a.id), isMember(a, profile));
  }
}

/** What every person's JSON reads (the API's and payloads' hot path), prepared once per connection. */
const flagReads = preparedFor((db) => ({
  audiences: db.select({ id: audiences.id, key: audiences.key }).from(audiences).prepare(),
  membersOfOne: db
    .select()
    .from(audienceMembers)
    .where(eq(audienceMembers.userId, sql.placeholder("id")))
    .prepare(),
}));

/** Audience flags for a page of users: every audience's property, true or false. */
export async function audienceFlags(db: DbOrTx, userIds: number[]): Promise<Map<number, Record<string, unknown>>> {
  const out = new Map<number, Record<string, unknown>>();
  if (!userIds.length) return out;
  const flagQueries = flagReads(db);
  const list = await flagQueries.audiences.execute();
  if (!list.length) return out;
  const members =
    userIds.length === 1
      ? await flagQueries.membersOfOne.execute({ id: userIds[0] })
      : await db.select().from(audienceMembers).where(inArray(audienceMembers.userId, userIds));
  const keyOf = new Map(list.map((a) => [a.id, a.key]));
  for (const id of userIds) out.set(id, Object.fromEntries(list.map((a) => [a.key, false])));
  for (const m of members) out.get(m.userId)![keyOf.get(m.audienceId)!] = true;
  return out;
}
