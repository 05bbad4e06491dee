import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Loop guard. Every request we send carries X-Switchboard-Hop: the hop count of the request that
 * caused it, plus one. Our API refuses a request past MAX_HOPS, so a loop (a webhook feeding our
 * own ingest, directly or through another host or appliance) dies after a few rounds. The count of
 * the request being handled is kept in async context and stored on the jobs it queues.
 */
export const HOP_HEADER = "X-Switchboard-Hop";
export const MAX_HOPS = 3;

const hops = new AsyncLocalStorage<number>();

/** The hop count a request carries (0 when absent or unreadable). */
export function hopOf(request: Request): number {
  const value = request.headers.get(HOP_HEADER);
  return value && /^\d{1,6}$/.test(value.trim()) ? Number(value) : 0;
}

export const withHop = <T>(hop: number, fn: () => T): T => hops.run(hop, fn);

/** The hop count of the request whose work is running now (0 outside one). */
export const currentHop = (): number => hops.getStore() ?? 0;

/** The header value for a request caused by work at `hop`. */
export const nextHop = (hop: number | undefined): string => String((hop ?? 0) + 1);
