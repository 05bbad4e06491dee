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

export const noContent = () => new Response(null, { status: 204 });
