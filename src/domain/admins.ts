import { and, asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client";
import { sessions, userRoles, users } from "../db/schema";
import { conflict, notFound, validate, ValidationError } from "../errors";
import type { Actor, EventFeed } from "../events/feed";
import { setupIsOpen } from "./admin-access";
import { ADMIN_ROLE_ID, CUSTOMER_ROLE_ID } from "./roles";
import { passwordResemblesEmail, passwordSchema } from "./passwords";
import { createUserIn, findUserByEmail, getUserRow, roleIdsOf, updateUserIn } from "./users";

const emailSchema = z
  .string()
  .trim()
  .max(254, "must be at most 254 characters")
  .pipe(z.email("must be a valid email address"))
  .transform((v) => v.toLowerCase());

export const newAdminSchema = z
  .strictObject({
    email: emailSchema,
    password: passwordSchema,
    firstname: z.string().trim().max(120).optional().default(""),
    lastname: z.string().trim().max(120).optional().default(""),
  })
  .superRefine((v, ctx) => {
    const wrong = passwordResemblesEmail(v.password, v.email);
    if (wrong) ctx.addIssue({ code: "custom", path: ["password"], message: wrong });
  });

export type Admin = {
  id: number;
  email: string;
  firstname: string | null;
  lastname: string | null;
  lastLogin: Date | null;
  createdAt: Date;
};

const adminColumns = {
  id: users.id,
  email: sql<string>`${users.email}`,
  firstname: users.firstname,
  lastname: users.lastname,
  lastLogin: users.lastLogin,
  createdAt: users.createdAt,
};
const isAdmin = and(eq(userRoles.userId, users.id), eq(userRoles.roleId, ADMIN_ROLE_ID));

export async function countAdmins(db: Db): Promise<number> {
  return (
    await db.select({ n: sql<number>`count(*)` }).from(userRoles).where(eq(userRoles.roleId, ADMIN_ROLE_ID)).limit(1)
  )[0]!.n;
}

export async function listAdmins(db: Db): Promise<Admin[]> {
  return await db
    .select(adminColumns)
    .from(users)
    .innerJoin(userRoles, isAdmin)
    .where(eq(users.active, true))
    .orderBy(asc(users.email));
}

/** An active administrator by email (the CLI names admins this way). */
export async function findAdminByEmail(db: Db, email: string): Promise<Admin | undefined> {
  return (
    await db
      .select(adminColumns)
      .from(users)
      .innerJoin(userRoles, isAdmin)
      .where(and(eq(users.email, email.trim().toLowerCase()), eq(users.active, true)))
      .limit(1)
  )[0];
}

async function findAdmin(db: Db, id: number): Promise<(Admin & { passwordHash: string | null }) | undefined> {
  return (
    await db
      .select({ ...adminColumns, passwordHash: users.passwordHash })
      .from(users)
      .innerJoin(userRoles, isAdmin)
      .where(and(eq(users.id, id), eq(users.active, true)))
      .limit(1)
  )[0];
}

/**
 * Creates a user with the Admin role, recording user.created like any other person (the password
 * hash is no field and stays out of the event), or gives a person already known by that email the
 * Admin role and the password (user.updated). The password is hashed (argon2id) before the transaction.
 */
export async function createAdmin(
  db: Db,
  feed: EventFeed,
  input: unknown,
  actor: Actor,
  opts: { onlyIfFirst?: boolean } = {},
): Promise<Admin> {
  const data = validate(newAdminSchema, input);
  const passwordHash = await Bun.password.hash(data.password, { algorithm: "argon2id" });
  return db.transaction(async (tx) => {
    // Checked inside the transaction: two racing first-run setups cannot both succeed.
    if (opts.onlyIfFirst && !(await setupIsOpen(tx))) throw conflict("setup is already complete");
    const names = { firstname: data.firstname || undefined, lastname: data.lastname || undefined };
    // Someone already known (a customer, an agent) becomes an administrator: the same person, one more role.
    const existing = await findUserByEmail(tx, data.email);
    if (existing) {
      const roles = await roleIdsOf(tx, existing.id);
      if (roles.includes(ADMIN_ROLE_ID))
        throw conflict(`${data.email} is already an administrator`, [{ field: "email", message: "already taken" }]);
      const change = { ...names, verified: true, role_ids: [...roles, ADMIN_ROLE_ID] };
      const row = await updateUserIn(tx, feed, existing, change, [], actor, { passwordHash });
      return { ...adminOf(row), lastLogin: row.lastLogin };
    }
    const person = { email: data.email, ...names, verified: true, role_ids: [ADMIN_ROLE_ID] };
    // No custom fields: an administrator is made before any required field could be filled in.
    const row = await createUserIn(tx, feed, person, [], actor, { passwordHash });
    return { ...adminOf(row), lastLogin: null };
  });
}

const adminOf = (row: {
  id: number;
  email: string | null;
  firstname: string | null;
  lastname: string | null;
  createdAt: Date;
}) => ({
  id: row.id,
  email: row.email!,
  firstname: row.firstname,
  lastname: row.lastname,
  createdAt: row.createdAt,
});

/**
 * Takes the Admin role away (the person stays, as a customer when they had no other role); their
 * tokens, sessions and password go with it (see admin-access.ts). Refused for oneself and for the
 * last active administrator.
 */
export async function removeAdmin(db: Db, feed: EventFeed, id: number, actor: Actor & { id: number }): Promise<void> {
  if (id === actor.id) throw conflict("you cannot remove your own admin account");
  await db.transaction(async (tx) => {
    const roleIds = (await tx.select({ id: userRoles.roleId }).from(userRoles).where(eq(userRoles.userId, id))).map(
      (r) => r.id,
    );
    if (!roleIds.includes(ADMIN_ROLE_ID)) throw notFound("admin");
    const remaining = roleIds.filter((r) => r !== ADMIN_ROLE_ID);
    await updateUserIn(
      tx,
      feed,
      await getUserRow(tx, id),
      { role_ids: remaining.length ? remaining : [CUSTOMER_ROLE_ID] },
      [],
      actor,
    );
  });
}

/**
 * A real argon2id hash (of a password nobody knows) to compare against when the email is unknown, so
 * both paths cost the same. Written out rather than made at start-up: hashing takes 64 MiB and
 * a core for a good part of a second; its parameters are Bun's defaults, as every stored hash's.
 */
export const DECOY_HASH =
  "$argon2id$v=19$m=65536,t=2,p=1$xU03Hw63uQGoxGyydrEbJoo+ZNGtAKesx+iuk5J+vRs$5yNP7XjtMcm+q3ti3t2VRuIr4KwDbt0AxFSJRCo/YRk";

/** Checks an email and password; returns the admin, or null without telling which part was wrong. */
export async function verifyAdminLogin(db: Db, email: string, password: string): Promise<Admin | null> {
  const row = (
    await db
      .select({ ...adminColumns, passwordHash: users.passwordHash })
      .from(users)
      .innerJoin(userRoles, isAdmin)
      .where(and(eq(users.email, email.trim().toLowerCase()), eq(users.active, true)))
      .limit(1)
  )[0];
  const ok = await Bun.password.verify(password, row?.passwordHash ?? DECOY_HASH);
  if (!row?.passwordHash || !ok) return null;
  await db.transaction(async (tx) => tx.update(users).set({ lastLogin: new Date() }).where(eq(users.id, row.id)));
  const { passwordHash: _, ...admin } = row;
  return admin;
}

const changePasswordSchema = z
  .strictObject({
    current_password: z.string().min(1, "is required"),
    new_password: passwordSchema,
    confirm_password: z.string(),
  })
  .refine((v) => v.new_password === v.confirm_password, {
    path: ["confirm_password"],
    message: "does not match the new password",
  });

/**
 * Changes an admin's own password after checking the current one; other sessions of theirs end.
 * The change is an event (without the password) like every account change.
 */
export async function changePassword(
  db: Db,
  feed: EventFeed,
  id: number,
  input: unknown,
  keepSessionId?: string,
): Promise<void> {
  const data = validate(changePasswordSchema, input);
  const admin = await findAdmin(db, id);
  if (!admin?.passwordHash) throw notFound("admin");
  if (!(await Bun.password.verify(data.current_password, admin.passwordHash))) {
    throw new ValidationError([{ field: "current_password", message: "is not your current password" }]);
  }
  const wrong = passwordResemblesEmail(data.new_password, admin.email);
  if (wrong) throw new ValidationError([{ field: "new_password", message: wrong }]);
  const passwordHash = await Bun.password.hash(data.new_password, { algorithm: "argon2id" });
  await db.transaction(async (tx) => {
    await tx.update(users).set({ passwordHash, updatedAt: new Date(), updatedById: id }).where(eq(users.id, id));
    const others = keepSessionId
      ? and(eq(sessions.userId, id), sql`${sessions.id} <> ${keepSessionId}`)
      : eq(sessions.userId, id);
    await tx.delete(sessions).where(others);
    await feed.record(tx, {
      type: "user.updated",
      objectType: "user",
      objectId: id,
      changes: { password: [null, "changed"] },
      actor: { id, source: "ui" },
    });
  });
}
