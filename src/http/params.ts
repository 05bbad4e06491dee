import { notFound } from "../errors";
import type { Actor } from "../events/feed";
import { requireApiToken } from "./auth";
import type { AppContext } from "./context";

/** The actor of an API call: the admin who created the token, writing as source "api". */
export async function apiActor(ctx: AppContext, request: Request): Promise<Actor> {
  return { id: (await requireApiToken(ctx, request)).actorId, source: "api" };
}

/** A path id: a positive integer, or the resource does not exist. */
export function pathId(value: string, what: string): number {
  const n = /^\d{1,15}$/.test(value) ? Number(value) : 0;
  if (!n) throw notFound(what);
  return n;
}

/**
 * A path token (a random token or a hash): URL-safe characters only. Anything else names no record,
 * and must not reach a query (PostgreSQL refuses text holding a NUL byte: a 500, not a 404).
 */
export const isPathToken = (value: string): boolean => /^[A-Za-z0-9_-]{1,128}$/.test(value);

export const noContent = () => new Response(null, { status: 204 });
