import { and, eq, lt } from "drizzle-orm";
import { pageState } from "../../db/schema";
import type { SessionInfo } from "../../domain/sessions";
import type { AppContext } from "../context";

/**
 * Secrets shown once (a new webhook's signing secret, an API token, a write key) must survive the
 * redirect that ends their POST, exactly once, whichever node serves the next page. They wait in
 * the database (page_state), sealed with the secret key (never in plain, a URL or a cookie), for the
 * next page the same session opens at the redirect's path, and are gone once shown or after a few minutes.
 */
const TTL_MS = 5 * 60_000;
const keyOf = (session: SessionInfo) => `shown_once:${session.id}`;

/** Keeps page data for this session's next visit to `path` (one item a session: a newer one replaces it). */
export async function showOnce(
  ctx: AppContext,
  session: SessionInfo,
  path: string,
  data: Record<string, unknown>,
): Promise<void> {
  const now = Date.now();
  const row = {
    key: keyOf(session),
    kind: "shown_once" as const,
    page: path,
    data: await ctx.secrets.encrypt(JSON.stringify(data)),
    expiresAt: new Date(now + TTL_MS),
  };
  await ctx.db.transaction(async (tx) => {
    await tx.delete(pageState).where(and(eq(pageState.kind, "shown_once"), lt(pageState.expiresAt, new Date(now))));
    await tx.insert(pageState).values(row).onConflictDoUpdate({ target: pageState.key, set: row });
  });
}

/** The data kept for this session at this path, removed as it is taken; null when none. */
export async function takeShownOnce(
  ctx: AppContext,
  session: SessionInfo,
  path: string,
): Promise<Record<string, unknown> | null> {
  // A read first: nearly every page view has nothing waiting, and a read costs no write transaction.
  const where = and(eq(pageState.key, keyOf(session)), eq(pageState.page, path));
  const [waiting] = await ctx.db.select({ key: pageState.key }).from(pageState).where(where).limit(1);
  if (!waiting) return null;
  // Taken by whoever deletes it: two pages opened at once show it once.
  const [taken] = await ctx.db.transaction(async (tx) =>
    tx.delete(pageState).where(where).returning({ data: pageState.data, expiresAt: pageState.expiresAt }),
  );
  if (!taken || taken.expiresAt.getTime() < Date.now()) return null;
  return JSON.parse(await ctx.secrets.decrypt(taken.data)) as Record<string, unknown>;
}
