import { and, eq, isNotNull, isNull, ne, sql } from "drizzle-orm";
import type { Tx, DbOrTx } from "../db/client";
import { preparedFor } from "../db/prepared";
import { apiTokens, sessions, settings, userRoles, users } from "../db/schema";
import { conflict, ValidationError } from "../errors";
import { ADMIN_ROLE_ID } from "./roles";

/**
 * The rules every door (admin UI, REST API, CLI, CSV import) follows when an account gains or loses
 * the Admin role, is deactivated or is deleted. users.ts and admins.ts call these inside their
 * transactions, so the rule and the change commit together.
 */

/** Set when the first administrator is created and never cleared: /setup is for new appliances only. */
const ADMIN_EVER_CREATED_KEY = "admin.first_created_at";

type Changes = Record<string, [unknown, unknown]>;
const hasAdminRole = (roleIds: unknown) => Array.isArray(roleIds) && roleIds.includes(ADMIN_ROLE_ID);
const LAST_ADMIN =
  "the last active administrator cannot be demoted, deactivated or deleted; make another administrator first";

export async function isActiveAdmin(tx: DbOrTx, userId: number): Promise<boolean> {
  return !!(
    await tx
      .select({ id: users.id })
      .from(users)
      .innerJoin(userRoles, and(eq(userRoles.userId, users.id), eq(userRoles.roleId, ADMIN_ROLE_ID)))
      .where(and(eq(users.id, userId), eq(users.active, true)))
      .limit(1)
  )[0];
}

/** 409 when this user is the only active administrator who can sign in; `field` names the input at fault, if any. */
export async function assertNotLastActiveAdmin(tx: Tx, userId: number, field?: string): Promise<void> {
  if (!(await isActiveAdmin(tx, userId))) return;
  const others = (
    await tx
      .select({ n: sql<number>`count(*)` })
      .from(users)
      .innerJoin(userRoles, and(eq(userRoles.userId, users.id), eq(userRoles.roleId, ADMIN_ROLE_ID)))
      // Only admins who can sign in count: one made through the API without a password cannot take over.
      .where(and(eq(users.active, true), ne(users.id, userId), isNotNull(users.passwordHash)))
      .limit(1)
  )[0]!.n;
  if (others === 0) throw conflict(LAST_ADMIN, field ? [{ field, message: LAST_ADMIN }] : undefined);
}

/** Before an account change is written: demoting or deactivating must leave an active administrator. */
export async function checkAccountChange(tx: Tx, userId: number, changes: Changes): Promise<void> {
  if (changes.role_ids && hasAdminRole(changes.role_ids[0]) && !hasAdminRole(changes.role_ids[1]))
    await assertNotLastActiveAdmin(tx, userId, "role_ids");
  if (changes.active?.[1] === false) await assertNotLastActiveAdmin(tx, userId, "active");
}

/** After it is written: a new admin closes /setup for good; one who lost the role loses their access. */
export async function afterAccountChange(tx: Tx, userId: number, changes: Changes): Promise<void> {
  // With new roles written, whether the person is an admin is known (a customer needs no look).
  if (changes.role_ids ? hasAdminRole(changes.role_ids[1]) : changes.email) await assertAdminCanSignIn(tx, userId);
  if (!changes.role_ids) return;
  const [before, after] = changes.role_ids;
  if (hasAdminRole(after) && !hasAdminRole(before)) {
    await tx
      .insert(settings)
      .values({ key: ADMIN_EVER_CREATED_KEY, value: Date.now(), updatedAt: new Date() })
      .onConflictDoNothing();
  }
  if (hasAdminRole(before) && !hasAdminRole(after)) await endAdminAccess(tx, userId);
}

/**
 * An administrator signs in with their email, so an admin's email cannot be cleared (a PUT that leaves it out, say).
 */
const adminEmail = preparedFor((tx: Tx) =>
  tx
    .select({ email: users.email })
    .from(users)
    .innerJoin(userRoles, and(eq(userRoles.userId, users.id), eq(userRoles.roleId, ADMIN_ROLE_ID)))
    .where(eq(users.id, sql.placeholder("userId")))
    .limit(1)
    .prepare(),
);

async function assertAdminCanSignIn(tx: Tx, userId: number): Promise<void> {
  const row = (await adminEmail(tx).execute({ userId }))[0];
  if (row && !row.email)
    throw new ValidationError([
      { field: "email", message: "an administrator signs in with their email, so it cannot be empty" },
    ]);
}

/**
 * Revokes the person's API tokens (for good: a new grant does not revive them),
 * ends their sessions, drops their password.
 */
export async function endAdminAccess(tx: Tx, userId: number): Promise<void> {
  await tx
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiTokens.createdById, userId), isNull(apiTokens.revokedAt)));
  await tx.delete(sessions).where(eq(sessions.userId, userId));
  await tx.update(users).set({ passwordHash: null }).where(eq(users.id, userId));
}

/** First-run setup is open only on a database that has never had an administrator. */
export async function setupIsOpen(db: DbOrTx): Promise<boolean> {
  return !(
    await db.select({ key: settings.key }).from(settings).where(eq(settings.key, ADMIN_EVER_CREATED_KEY)).limit(1)
  )[0];
}
