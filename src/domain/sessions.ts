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

export async function createSession(
  db: Db,
  userId: number,
  meta: { ip?: string; userAgent?: string },
): Promise<{ token: string; csrfToken: string }> {
  const token = randomToken();
  const csrfToken = randomToken();
  const now = new Date();
  await db.transaction(async (tx) =>
    tx.insert(sessions).values({
      id: sha256Hex(token),
      userId,
      csrfToken,
      createdAt: now,
      lastSeenAt: now,
      ip: meta.ip ?? null,
      userAgent: meta.userAgent?.slice(0, 300) ?? null,
    }),
  );
  return { token, csrfToken };
}

/**
 * The admin session a cookie token belongs to, or null when unknown, idle or
 * alive too long, or no longer an active admin.
 */
export async function resolveSession(
  db: Db,
  token: string,
  { idleMs, maxAgeMs }: SessionLimits,
): Promise<SessionInfo | null> {
  const id = sha256Hex(token);
  const row = (
    await db
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
      .limit(1)
  )[0];
  if (!row) return null;
  const now = Date.now();
  if (now - row.lastSeenAt.getTime() > idleMs || now - row.createdAt.getTime() > maxAgeMs) {
    await db.transaction(async (tx) => tx.delete(sessions).where(eq(sessions.id, id)));
    return null;
  }
  if (now - row.lastSeenAt.getTime() > Math.min(TOUCH_EVERY_MS, idleMs / 4))
    await db.transaction(async (tx) =>
      tx
        .update(sessions)
        .set({ lastSeenAt: new Date(now) })
        .where(eq(sessions.id, id)),
    );
  const name = [row.firstname, row.lastname].filter(Boolean).join(" ") || row.email!;
  return { id: row.id, csrfToken: row.csrfToken, user: { id: row.userId, email: row.email!, name } };
}

export async function deleteSession(db: Db, sessionId: string): Promise<void> {
  await db.transaction(async (tx) => tx.delete(sessions).where(eq(sessions.id, sessionId)));
}

export async function pruneExpiredSessions(db: Db, { idleMs, maxAgeMs }: SessionLimits): Promise<number> {
  const expired = or(
    lt(sessions.lastSeenAt, new Date(Date.now() - idleMs)),
    lt(sessions.createdAt, new Date(Date.now() - maxAgeMs)),
  );
  const deleted = await db.transaction(async (tx) => tx.delete(sessions).where(expired).returning({ id: sessions.id }));
  return deleted.length;
}

export type SessionView = {
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  ip: string | null;
  userAgent: string | null;
};

/** An admin's own sessions, newest first (ids are SHA-256 of the cookie token: no use without it). */
export async function listSessions(db: Db, userId: number): Promise<SessionView[]> {
  return await db
    .select({
      id: sessions.id,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      ip: sessions.ip,
      userAgent: sessions.userAgent,
    })
    .from(sessions)
    .where(eq(sessions.userId, userId))
    .orderBy(desc(sessions.lastSeenAt));
}

/** Ends one of the admin's own sessions; another admin's is not found. */
export async function revokeSession(db: Db, userId: number, sessionId: string): Promise<void> {
  const ended = await db.transaction(async (tx) =>
    tx
      .delete(sessions)
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId)))
      .returning({ id: sessions.id }),
  );
  if (!ended.length) throw notFound("session");
}
