import { and, asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client";
import { sessions, userRoles, users } from "../db/schema";
import { conflict, notFound, validate, ValidationError } from "../errors";

export const ADMIN_ROLE_ID = 1;

export const passwordSchema = z.string().min(10, "must be at least 10 characters").max(256, "must be at most 256 characters");
export const emailSchema = z
  .string()
  .trim()
  .max(254, "must be at most 254 characters")
  .pipe(z.email("must be a valid email address"))
  .transform((v) => v.toLowerCase());

export const newAdminSchema = z.strictObject({
  email: emailSchema,
  password: passwordSchema,
  firstname: z.string().trim().max(120).optional().default(""),
  lastname: z.string().trim().max(120).optional().default(""),
});

export type Admin = { id: number; email: string; firstname: string | null; lastname: string | null; lastLogin: Date | null; createdAt: Date };

const adminColumns = {
  id: users.id,
  email: sql<string>`${users.email}`,
  firstname: users.firstname,
  lastname: users.lastname,
  lastLogin: users.lastLogin,
  createdAt: users.createdAt,
};
const isAdmin = and(eq(userRoles.userId, users.id), eq(userRoles.roleId, ADMIN_ROLE_ID));

export function countAdmins(db: Db): number {
  return db.select({ n: sql<number>`count(*)` }).from(userRoles).where(eq(userRoles.roleId, ADMIN_ROLE_ID)).get()!.n;
}

export function listAdmins(db: Db): Admin[] {
  return db.select(adminColumns).from(users).innerJoin(userRoles, isAdmin).where(eq(users.active, true)).orderBy(asc(users.email)).all();
}

export function findAdmin(db: Db, id: number): (Admin & { passwordHash: string | null }) | undefined {
  return db
    .select({ ...adminColumns, passwordHash: users.passwordHash })
    .from(users)
    .innerJoin(userRoles, isAdmin)
    .where(and(eq(users.id, id), eq(users.active, true)))
    .get();
}

/** Creates a user with the Admin role. The password is hashed (argon2id) before the transaction, which must stay synchronous. */
export async function createAdmin(db: Db, input: unknown, actorId: number | null = null, opts: { onlyIfFirst?: boolean } = {}): Promise<Admin> {
  const data = validate(newAdminSchema, input);
  const passwordHash = await Bun.password.hash(data.password, { algorithm: "argon2id" });
  return db.transaction((tx) => {
    // Checked inside the transaction: two racing first-run setups cannot both succeed.
    if (opts.onlyIfFirst && countAdmins(tx as unknown as Db) > 0) throw conflict("setup is already complete");
    const existing = tx.select({ id: users.id }).from(users).where(eq(users.email, data.email)).get();
    if (existing) throw conflict("a user with this email already exists", [{ field: "email", message: "already taken" }]);
    const row = tx
      .insert(users)
      .values({
        login: data.email,
        email: data.email,
        firstname: data.firstname || null,
        lastname: data.lastname || null,
        passwordHash,
        verified: true,
        createdById: actorId,
        updatedById: actorId,
      })
      .returning()
      .get();
    tx.insert(userRoles).values({ userId: row.id, roleId: ADMIN_ROLE_ID }).run();
    return { id: row.id, email: row.email!, firstname: row.firstname, lastname: row.lastname, lastLogin: null, createdAt: row.createdAt };
  });
}

/** Takes the Admin role and the password away and ends the person's sessions; the person stays. */
export function removeAdmin(db: Db, id: number, actorId: number): void {
  if (id === actorId) throw conflict("you cannot remove your own admin account");
  db.transaction((tx) => {
    const target = tx.select({ id: userRoles.userId }).from(userRoles).where(and(eq(userRoles.userId, id), eq(userRoles.roleId, ADMIN_ROLE_ID))).get();
    if (!target) throw notFound("admin");
    tx.delete(userRoles).where(and(eq(userRoles.userId, id), eq(userRoles.roleId, ADMIN_ROLE_ID))).run();
    tx.update(users).set({ passwordHash: null, updatedAt: new Date(), updatedById: actorId }).where(eq(users.id, id)).run();
    tx.delete(sessions).where(eq(sessions.userId, id)).run();
  });
}

// A real hash to compare against when the email is unknown, so both paths cost the same.
const decoyHash = Bun.password.hash("decoy-password-never-matches", { algorithm: "argon2id" });

/** Checks an email and password; returns the admin, or null without telling which part was wrong. */
export async function verifyAdminLogin(db: Db, email: string, password: string): Promise<Admin | null> {
  const row = db
    .select({ ...adminColumns, passwordHash: users.passwordHash })
    .from(users)
    .innerJoin(userRoles, isAdmin)
    .where(and(eq(users.email, email.trim().toLowerCase()), eq(users.active, true)))
    .get();
  const ok = await Bun.password.verify(password, row?.passwordHash ?? (await decoyHash));
  if (!row?.passwordHash || !ok) return null;
  db.update(users).set({ lastLogin: new Date() }).where(eq(users.id, row.id)).run();
  const { passwordHash: _, ...admin } = row;
  return admin;
}

export const changePasswordSchema = z
  .strictObject({ current_password: z.string().min(1, "is required"), new_password: passwordSchema, confirm_password: z.string() })
  .refine((v) => v.new_password === v.confirm_password, { path: ["confirm_password"], message: "does not match the new password" });

/** Changes an admin's own password after checking the current one; other sessions of theirs end. */
export async function changePassword(db: Db, id: number, input: unknown, keepSessionId?: string): Promise<void> {
  const data = validate(changePasswordSchema, input);
  const admin = findAdmin(db, id);
  if (!admin?.passwordHash) throw notFound("admin");
  if (!(await Bun.password.verify(data.current_password, admin.passwordHash))) {
    throw new ValidationError([{ field: "current_password", message: "is not your current password" }]);
  }
  const passwordHash = await Bun.password.hash(data.new_password, { algorithm: "argon2id" });
  db.transaction((tx) => {
    tx.update(users).set({ passwordHash, updatedAt: new Date(), updatedById: id }).where(eq(users.id, id)).run();
    const others = keepSessionId ? and(eq(sessions.userId, id), sql`${sessions.id} <> ${keepSessionId}`) : eq(sessions.userId, id);
    tx.delete(sessions).where(others).run();
  });
}
