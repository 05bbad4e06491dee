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

export function groupJson(db: DbOrTx, row: GroupRow) {
  const members = db
    .select({ id: users.id, login: users.login })
    .from(userGroups)
    .innerJoin(users, eq(users.id, userGroups.userId))
    .where(eq(userGroups.groupId, row.id))
    .orderBy(asc(users.id))
    .all();
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

export function getGroupRow(db: DbOrTx, groupId: number): GroupRow {
  const row = db.select().from(groups).where(eq(groups.id, groupId)).get();
  if (!row) throw notFound("group");
  return row;
}

export function listGroups(db: Db) {
  return db
    .select()
    .from(groups)
    .orderBy(asc(groups.name))
    .all()
    .map((g) => groupJson(db, g));
}

function setMembers(tx: Tx, groupId: number, userIds: number[]) {
  const found = userIds.length
    ? tx.select({ id: users.id }).from(users).where(inArray(users.id, userIds)).all().length
    : 0;
  if (found !== new Set(userIds).size)
    throw new ValidationError([{ field: "user_ids", message: "contains an unknown user id" }]);
  tx.delete(userGroups).where(eq(userGroups.groupId, groupId)).run();
  if (userIds.length)
    tx.insert(userGroups)
      .values([...new Set(userIds)].map((userId) => ({ userId, groupId })))
      .run();
}

function memberIds(tx: Tx, groupId: number): number[] {
  return tx
    .select({ id: userGroups.userId })
    .from(userGroups)
    .where(eq(userGroups.groupId, groupId))
    .orderBy(asc(userGroups.userId))
    .all()
    .map((r) => r.id);
}

export function createGroup(db: Db, feed: EventFeed, input: unknown, actor: Actor) {
  const d = validate(groupInputModel, input);
  if (!d.name) throw new ValidationError([{ field: "name", message: "is required" }]);
  return db.transaction((tx) => {
    if (tx.select({ id: groups.id }).from(groups).where(eq(groups.name, d.name!)).get())
      throw conflict("a group with this name already exists", [{ field: "name", message: "already taken" }]);
    const row = tx
      .insert(groups)
      .values({
        name: d.name!,
        note: d.note ?? null,
        active: d.active ?? true,
        createdById: actor.id,
        updatedById: actor.id,
      })
      .returning()
      .get();
    if (d.user_ids) setMembers(tx, row.id, d.user_ids);
    feed.record(tx, {
      type: "group.created",
      objectType: "group",
      objectId: row.id,
      changes: diff({}, { name: row.name, note: row.note, active: row.active, user_ids: d.user_ids ?? [] }),
      actor,
    });
    return groupJson(tx, row);
  });
}

export function updateGroup(db: Db, feed: EventFeed, groupId: number, input: unknown, actor: Actor) {
  const d = validate(groupInputModel, input);
  return db.transaction((tx) => {
    const before = getGroupRow(tx, groupId);
    if (
      d.name &&
      d.name !== before.name &&
      tx.select({ id: groups.id }).from(groups).where(eq(groups.name, d.name)).get()
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
      { name: before.name, note: before.note, active: before.active, user_ids: memberIds(tx, groupId) },
      target,
    );
    if (!Object.keys(changes).length) return groupJson(tx, before);
    const { user_ids, ...columns } = Object.fromEntries(Object.entries(changes).map(([k, [, v]]) => [k, v]));
    const row = tx
      .update(groups)
      .set({ ...columns, updatedAt: new Date(), updatedById: actor.id })
      .where(eq(groups.id, groupId))
      .returning()
      .get();
    if (user_ids) setMembers(tx, groupId, user_ids as number[]);
    feed.record(tx, { type: "group.updated", objectType: "group", objectId: groupId, changes, actor });
    return groupJson(tx, row);
  });
}

/** A group that tickets belong to is refused (409): move or close those tickets first. */
export function deleteGroup(db: Db, feed: EventFeed, groupId: number, actor: Actor): void {
  db.transaction((tx) => {
    getGroupRow(tx, groupId);
    const used = tx.select({ id: tickets.id }).from(tickets).where(eq(tickets.groupId, groupId)).limit(1).get();
    if (used) throw conflict("tickets belong to this group; move them to another group first");
    tx.delete(groups).where(eq(groups.id, groupId)).run();
    feed.record(tx, { type: "group.deleted", objectType: "group", objectId: groupId, actor });
  });
}
