import { asc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Db, Tx, DbOrTx } from "../db/client";
import { groups, tickets, userGroups, users } from "../db/schema";
import { conflict, notFound, validate, ValidationError } from "../errors";
import type { Actor, EventFeed } from "../events/feed";
import { diff, id, text } from "./records";

export type GroupRow = typeof groups.$inferSelect;

const groupShape = {
  name: z.string().trim().min(1, "is required").max(160, "must be at most 160 characters").optional(),
  note: text(2000),
  active: z.boolean().optional(),
  user_ids: z.array(id).max(10_000).optional(),
};

/** A group as a client writes it. */
export const groupInputModel = z.strictObject(groupShape);

export async function groupJson(db: DbOrTx, row: GroupRow) {
  const members = await db
    .select({ id: users.id, login: users.login })
    .from(userGroups)
    .innerJoin(users, eq(users.id, userGroups.userId))
    .where(eq(userGroups.groupId, row.id))
    .orderBy(asc(users.id));
  return {
    id: row.id,
    name: row.name,
    note: row.note,
    active: row.active,
    user_ids: members.map((m) => m.id),
    users: members.map((m) => m.login),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    created_by_id: row.createdById,
    updated_by_id: row.updatedById,
  };
}

export async function getGroupRow(db: DbOrTx, groupId: number): Promise<GroupRow> {
  const row = (await db.select().from(groups).where(eq(groups.id, groupId)).limit(1))[0];
  if (!row) throw notFound("group");
  return row;
}

export async function listGroups(db: Db) {
  const rows = await db.select().from(groups).orderBy(asc(groups.name));
  return Promise.all(rows.map((g) => groupJson(db, g)));
}

async function setMembers(tx: Tx, groupId: number, userIds: number[]) {
  const found = userIds.length
    ? (await tx.select({ id: users.id }).from(users).where(inArray(users.id, userIds))).length
    : 0;
  if (found !== new Set(userIds).size)
    throw new ValidationError([{ field: "user_ids", message: "contains an unknown user id" }]);
  await tx.delete(userGroups).where(eq(userGroups.groupId, groupId));
  if (userIds.length) await tx.insert(userGroups).values([...new Set(userIds)].map((userId) => ({ userId, groupId })));
}

async function memberIds(tx: Tx, groupId: number): Promise<number[]> {
  return (
    await tx
      .select({ id: userGroups.userId })
      .from(userGroups)
      .where(eq(userGroups.groupId, groupId))
      .orderBy(asc(userGroups.userId))
  ).map((r) => r.id);
}

export async function createGroup(db: Db, feed: EventFeed, input: unknown, actor: Actor) {
  const d = validate(groupInputModel, input);
  if (!d.name) throw new ValidationError([{ field: "name", message: "is required" }]);
  return await db.transaction(async (tx) => {
    if ((await tx.select({ id: groups.id }).from(groups).where(eq(groups.name, d.name!)).limit(1))[0])
      throw conflict("a group with this name already exists", [{ field: "name", message: "already taken" }]);
    const row = (
      await tx
        .insert(groups)
        .values({
          name: d.name!,
          note: d.note ?? null,
          active: d.active ?? true,
          createdById: actor.id,
          updatedById: actor.id,
        })
        .returning()
    )[0]!;
    if (d.user_ids) await setMembers(tx, row.id, d.user_ids);
    await feed.record(tx, {
      type: "group.created",
      objectType: "group",
      objectId: row.id,
      changes: diff({}, { name: row.name, note: row.note, active: row.active, user_ids: d.user_ids ?? [] }),
      actor,
    });
    return groupJson(tx, row);
  });
}

export async function updateGroup(db: Db, feed: EventFeed, groupId: number, input: unknown, actor: Actor) {
  const d = validate(groupInputModel, input);
  return await db.transaction(async (tx) => {
    const before = await getGroupRow(tx, groupId);
    if (
      d.name &&
      d.name !== before.name &&
      (await tx.select({ id: groups.id }).from(groups).where(eq(groups.name, d.name)).limit(1))[0]
    ) {
      throw conflict("a group with this name already exists", [{ field: "name", message: "already taken" }]);
    }
    const target = Object.fromEntries(
      Object.entries({
        name: d.name,
        note: d.note,
        active: d.active,
        user_ids: d.user_ids && [...new Set(d.user_ids)].sort((a, b) => a - b),
      }).filter(([, v]) => v !== undefined),
    );
    const changes = diff(
      { name: before.name, note: before.note, active: before.active, user_ids: await memberIds(tx, groupId) },
      target,
    );
    if (!Object.keys(changes).length) return groupJson(tx, before);
    const { user_ids, ...columns } = Object.fromEntries(Object.entries(changes).map(([k, [, v]]) => [k, v]));
    const row = (
      await tx
        .update(groups)
        .set({ ...columns, updatedAt: new Date(), updatedById: actor.id })
        .where(eq(groups.id, groupId))
        .returning()
    )[0]!;
    if (user_ids) await setMembers(tx, groupId, user_ids as number[]);
    await feed.record(tx, { type: "group.updated", objectType: "group", objectId: groupId, changes, actor });
    return groupJson(tx, row);
  });
}

/** A group that tickets belong to is refused (409): move or close those tickets first. */
export async function deleteGroup(db: Db, feed: EventFeed, groupId: number, actor: Actor): Promise<void> {
  await db.transaction(async (tx) => {
    await getGroupRow(tx, groupId);
    const used = (await tx.select({ id: tickets.id }).from(tickets).where(eq(tickets.groupId, groupId)).limit(1))[0];
    if (used) throw conflict("tickets belong to this group; move them to another group first");
    await tx.delete(groups).where(eq(groups.id, groupId));
    await feed.record(tx, { type: "group.deleted", objectType: "group", objectId: groupId, actor });
  });
}
