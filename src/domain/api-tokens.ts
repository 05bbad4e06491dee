import { and, desc, eq, isNull } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client";
import { apiTokens, users } from "../db/schema";
import { randomToken, sha256Hex } from "../crypto-tokens";
import { notFound, validate } from "../errors";

export const TOKEN_PREFIX = "sbt_";
const TOUCH_EVERY_MS = 60_000;

export const newTokenSchema = z.strictObject({ name: z.string().trim().min(1, "is required").max(100, "must be at most 100 characters") });

export type ApiTokenView = { id: number; name: string; prefix: string; createdAt: Date; lastUsedAt: Date | null; createdBy: string | null };

/** Creates a token; the plain value is returned this once and never stored. */
export function createApiToken(db: Db, input: unknown, actorId: number | null): { token: string; record: ApiTokenView } {
  const { name } = validate(newTokenSchema, input);
  const token = TOKEN_PREFIX + randomToken();
  const row = db
    .insert(apiTokens)
    .values({ name, tokenHash: sha256Hex(token), prefix: token.slice(0, TOKEN_PREFIX.length + 6), createdById: actorId, createdAt: new Date() })
    .returning()
    .get();
  return { token, record: { id: row.id, name: row.name, prefix: row.prefix, createdAt: row.createdAt, lastUsedAt: null, createdBy: null } };
}

export function listApiTokens(db: Db): ApiTokenView[] {
  return db
    .select({ id: apiTokens.id, name: apiTokens.name, prefix: apiTokens.prefix, createdAt: apiTokens.createdAt, lastUsedAt: apiTokens.lastUsedAt, createdBy: users.email })
    .from(apiTokens)
    .leftJoin(users, eq(users.id, apiTokens.createdById))
    .where(isNull(apiTokens.revokedAt))
    .orderBy(desc(apiTokens.id))
    .all();
}

export function revokeApiToken(db: Db, id: number): void {
  const revoked = db.update(apiTokens).set({ revokedAt: new Date() }).where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt))).returning({ id: apiTokens.id }).all();
  if (!revoked.length) throw notFound("API token");
}

/** The live token matching a bearer value, recording its use (at most once a minute). */
export function authenticateApiToken(db: Db, token: string): { id: number; name: string; actorId: number | null } | null {
  if (!token.startsWith(TOKEN_PREFIX)) return null;
  const row = db
    .select({ id: apiTokens.id, name: apiTokens.name, lastUsedAt: apiTokens.lastUsedAt, actorId: apiTokens.createdById })
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, sha256Hex(token)), isNull(apiTokens.revokedAt)))
    .get();
  if (!row) return null;
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
    db.update(apiTokens).set({ lastUsedAt: new Date() }).where(eq(apiTokens.id, row.id)).run();
  }
  return { id: row.id, name: row.name, actorId: row.actorId };
}
