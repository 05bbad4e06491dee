import type { SessionInfo } from "../../domain/sessions";
import type { AppContext } from "../context";

/**
 * Secrets shown once (a new webhook's signing secret, an API token, a write key) must survive the
 * redirect that ends their POST, exactly once. They wait here, in this process's memory only (never
 * on disk, in a URL or a cookie), for the next page the same session opens at the redirect's path,
 * and are gone once shown or after a few minutes.
 */
type Pending = { path: string; data: Record<string, unknown>; expires: number };

const TTL_MS = 5 * 60_000;
const stores = new WeakMap<AppContext, Map<string, Pending>>();

function storeOf(ctx: AppContext): Map<string, Pending> {
  let store = stores.get(ctx);
  if (!store) stores.set(ctx, (store = new Map()));
  return store;
}

/** Keeps page data for this session's next visit to `path` (one item a session: a newer one replaces it). */
export function showOnce(ctx: AppContext, session: SessionInfo, path: string, data: Record<string, unknown>): void {
  const store = storeOf(ctx);
  const now = Date.now();
  for (const [key, p] of store) if (p.expires < now) store.delete(key);
  store.set(session.id, { path, data, expires: now + TTL_MS });
}

/** The data kept for this session at this path, removed as it is taken; null when none. */
export function takeShownOnce(ctx: AppContext, session: SessionInfo, path: string): Record<string, unknown> | null {
  const store = storeOf(ctx);
  const pending = store.get(session.id);
  if (!pending || pending.path !== path) return null;
  store.delete(session.id);
  return pending.expires >= Date.now() ? pending.data : null;
}
