import { and, eq, lt } from "drizzle-orm";
import type { Db } from "../db/client";
import { sessions, userRoles, users } from "../db/schema";
import { randomToken, sha256Hex } from "../crypto-tokens";
import { ADMIN_ROLE_ID } from "./admins";

export type SessionInfo = { id: string; csrfToken: string; user: { id: number; email: string; name: string } };

// Writing last_seen_at on every request would turn reads into writes; a minute's precision is enough,
// or a quarter of the idle limit when that is short, so an admin who is active is never signed out.
const TOUCH_EVERY_MS = 60_000;

export function createSession(db: Db, userId: number, meta: { ip?: string; userAgent?: string }): { token: string; csrfToken: string } {
  const token = randomToken();
  const csrfToken = randomToken();
  const now = new Date();
  db.insert(sessions)
    .values({ id: sha256Hex(token), userId, csrfToken, createdAt: now, lastSeenAt: now, ip: meta.ip ?? null, userAgent: meta.userAgent?.slice(0, 300) ?? null })
    .run();
  return { token, csrfToken };
}

/** The admin session a cookie token belongs to, or null when unknown, idle too long, or no longer an admin. */
export function resolveSession(db: Db, token: string, idleMs: number): SessionInfo | null {
  const id = sha256Hex(token);
  const row = db
    .select({ id: sessions.id, csrfToken: sessions.csrfToken, lastSeenAt: sessions.lastSeenAt, userId: users.id, email: users.email, firstname: users.firstname, lastname: users.lastname })
    .from(sessions)
    .innerJoin(users, and(eq(users.id, sessions.userId), eq(users.active, true)))
    .innerJoin(userRoles, and(eq(userRoles.userId, users.id), eq(userRoles.roleId, ADMIN_ROLE_ID)))
    .where(eq(sessions.id, id))
    .get();
  if (!row) return null;
  const now = Date.now();
  if (now - row.lastSeenAt.getTime() > idleMs) {
    db.delete(sessions).where(eq(sessions.id, id)).run();
    return null;
  }
  if (now - row.lastSeenAt.getTime() > Math.min(TOUCH_EVERY_MS, idleMs / 4)) db.update(sessions).set({ lastSeenAt: new Date(now) }).where(eq(sessions.id, id)).run();
  const name = [row.firstname, row.lastname].filter(Boolean).join(" ") || row.email!;
  return { id: row.id, csrfToken: row.csrfToken, user: { id: row.userId, email: row.email!, name } };
}

export function deleteSession(db: Db, sessionId: string): void {
  db.delete(sessions).where(eq(sessions.id, sessionId)).run();
}

export function pruneIdleSessions(db: Db, idleMs: number): number {
  return db.delete(sessions).where(lt(sessions.lastSeenAt, new Date(Date.now() - idleMs))).returning({ id: sessions.id }).all().length;
}
