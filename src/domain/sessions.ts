import { and, desc, eq, lt, or } from "drizzle-orm";
import type { Db } from "../db/client";
import { sessions, userRoles, users } from "../db/schema";
import { randomToken, sha256Hex } from "../crypto-tokens";
import { notFound } from "../errors";
import { ADMIN_ROLE_ID } from "./roles";

export type SessionInfo = { id: string; csrfToken: string; user: { id: number; email: string; name: string } };
/** How long a session lives: `idleMs` without a request, `maxAgeMs` in all however active. */
export type SessionLimits = { idleMs: number; maxAgeMs: number };

// Writing last_seen_at on every request would turn reads into writes; a minute's precision is enough,
// or a quarter of the idle limit when that is short, so an admin who is active is never signed out.
const TOUCH_EVERY_MS = 60_000;

export function createSession(
  db: Db,
  userId: number,
  meta: { ip?: string; userAgent?: string },
): { token: string; csrfToken: string } {
  const token = randomToken();
  const csrfToken = randomToken();
  const now = new Date();
  db.insert(sessions)
    .values({
      id: sha256Hex(token),
      userId,
      csrfToken,
      createdAt: now,
      lastSeenAt: now,
      ip: meta.ip ?? null,
      userAgent: meta.userAgent?.slice(0, 300) ?? null,
    })
    .run();
  return { token, csrfToken };
}

/**
 * The admin session a cookie token belongs to, or null when unknown, idle or
 * alive too long, or no longer an active admin.
 */
export function resolveSession(db: Db, token: string, { idleMs, maxAgeMs }: SessionLimits): SessionInfo | null {
  const id = sha256Hex(token);
  const row = db
    .select({
      id: sessions.id,
      csrfToken: sessions.csrfToken,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      userId: users.id,
      email: users.email,
      firstname: users.firstname,
      lastname: users.lastname,
    })
    .from(sessions)
    .innerJoin(users, and(eq(users.id, sessions.userId), eq(users.active, true)))
    .innerJoin(userRoles, and(eq(userRoles.userId, users.id), eq(userRoles.roleId, ADMIN_ROLE_ID)))
    .where(eq(sessions.id, id))
    .get();
  if (!row) return null;
  const now = Date.now();
  if (now - row.lastSeenAt.getTime() > idleMs || now - row.createdAt.getTime() > maxAgeMs) {
    db.delete(sessions).where(eq(sessions.id, id)).run();
    return null;
  }
  if (now - row.lastSeenAt.getTime() > Math.min(TOUCH_EVERY_MS, idleMs / 4))
    db.update(sessions)
      .set({ lastSeenAt: new Date(now) })
      .where(eq(sessions.id, id))
      .run();
  const name = [row.firstname, row.lastname].filter(Boolean).join(" ") || row.email!;
  return { id: row.id, csrfToken: row.csrfToken, user: { id: row.userId, email: row.email!, name } };
}

export function deleteSession(db: Db, sessionId: string): void {
  db.delete(sessions).where(eq(sessions.id, sessionId)).run();
}

export function pruneExpiredSessions(db: Db, { idleMs, maxAgeMs }: SessionLimits): number {
  const expired = or(
    lt(sessions.lastSeenAt, new Date(Date.now() - idleMs)),
    lt(sessions.createdAt, new Date(Date.now() - maxAgeMs)),
  );
  return db.delete(sessions).where(expired).returning({ id: sessions.id }).all().length;
}

export type SessionView = {
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  ip: string | null;
  userAgent: string | null;
};

/** An admin's own sessions, newest first (ids are SHA-256 of the cookie token: no use without it). */
export function listSessions(db: Db, userId: number): SessionView[] {
  return db
    .select({
      id: sessions.id,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      ip: sessions.ip,
      userAgent: sessions.userAgent,
    })
    .from(sessions)
    .where(eq(sessions.userId, userId))
    .orderBy(desc(sessions.lastSeenAt))
    .all();
}

/** Ends one of the admin's own sessions; another admin's is not found. */
export function revokeSession(db: Db, userId: number, sessionId: string): void {
  const ended = db
    .delete(sessions)
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId)))
    .returning({ id: sessions.id })
    .all();
  if (!ended.length) throw notFound("session");
}
