import { and, asc, desc, eq, gt, inArray, sql } from "drizzle-orm";
import { preparedFor } from "../db/prepared";
import type { Db, Tx } from "../db/client";
import { events } from "../db/schema";

/** Who changed something, and through which door. Enrichment providers write as `enrichment:<name>`. */
export type Source = "ui" | "api" | "cli" | "identify" | "import" | "system" | `enrichment:${string}`;
export type Actor = { id: number | null; source: Source };

export type ChangeEvent = {
  id: number;
  type: string;
  objectType: string;
  objectId: number;
  changes: Record<string, [unknown, unknown]>;
  actorId: number | null;
  source: string;
  createdAt: Date;
};

const insertEvent = preparedFor((tx: Tx) =>
  tx
    .insert(events)
    .values({
      type: sql.placeholder("type"),
      objectType: sql.placeholder("objectType"),
      objectId: sql.placeholder("objectId"),
      changes: sql.placeholder("changes"),
      actorId: sql.placeholder("actorId"),
      source: sql.placeholder("source"),
      createdAt: sql.placeholder("createdAt"),
    })
    .returning()
    .prepare(),
);

type InTransactionHook = (tx: Tx, event: ChangeEvent) => Promise<void>;
export type EventFilter = { objectType?: string; objectId?: number };

/**
 * The change feed. `record` writes the event row inside the caller's transaction and runs the
 * in-transaction hooks in order (consumers that enqueue durable jobs, so job and event commit
 * together). Once the transaction has committed, listeners are woken once (no polling), on this node
 * by the after-commit hook and on the others by the store's notification; a rolled back transaction
 * wakes nobody.
 */
export class EventFeed {
  private hooks: InTransactionHook[] = [];
  private listeners = new Set<() => void>();
  private listeningToNodes = false;
  private readonly wake = () => {
    for (const l of this.listeners) l();
  };

  constructor(private readonly db: Db) {}

  /** Consumers that must act in the same transaction as the change (e.g. enqueue a delivery). */
  onRecord(hook: InTransactionHook): void {
    this.hooks.push(hook);
  }

  /** Wakes after a commit here or on another node (from the first long poll on); returns an unsubscribe function. */
  private subscribe(listener: () => void): () => void {
    if (!this.listeningToNodes) {
      this.listeningToNodes = true;
      this.db.onNodesNotify("changes", this.wake);
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async record(
    tx: Tx,
    e: {
      type: string;
      objectType: string;
      objectId: number;
      changes?: Record<string, [unknown, unknown]>;
      actor: Actor;
    },
  ): Promise<ChangeEvent> {
    const [row] = await insertEvent(tx).execute({
      type: e.type,
      objectType: e.objectType,
      objectId: e.objectId,
      changes: e.changes ?? {},
      actorId: e.actor.id,
      source: e.actor.source,
      createdAt: new Date(),
    });
    for (const hook of this.hooks) await hook(tx, row!);
    tx.afterCommit(this.wake);
    tx.notifyNodes("changes", String(row!.id));
    return row!;
  }

  /**
   * Several events at once (a bulk write such as a CSV import): one multi-row insert, then each
   * event's in-transaction hooks in order, as `record` runs them for one.
   */
  async recordMany(
    tx: Tx,
    list: { type: string; objectType: string; objectId: number; changes?: Record<string, [unknown, unknown]> }[],
    actor: Actor,
  ): Promise<ChangeEvent[]> {
    if (!list.length) return [];
    const createdAt = new Date();
    const rows = await tx
      .insert(events)
      .values(
        list.map((e) => ({
          type: e.type,
          objectType: e.objectType,
          objectId: e.objectId,
          changes: e.changes ?? {},
          actorId: actor.id,
          source: actor.source,
          createdAt,
        })),
      )
      .returning();
    rows.sort((a, b) => a.id - b.id); // ids follow the VALUES order; RETURNING's order is not promised
    for (const row of rows) for (const hook of this.hooks) await hook(tx, row);
    tx.afterCommit(this.wake);
    tx.notifyNodes("changes", String(rows.at(-1)!.id));
    return rows;
  }

  /**
   * Events after a cursor; with none yet, waits up to `waitMs` for some (a long poll). A wake-up
   * that brings nothing for this filter (another object's change, a reconnect's "all") waits on.
   */
  async poll(
    after: number,
    limit: number,
    filter: EventFilter,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<ChangeEvent[]> {
    const deadline = Date.now() + waitMs;
    let woken = false;
    let resume: (() => void) | undefined;
    // Subscribed before the first read: a change committing between the read and the wait still wakes it.
    const unsubscribe = this.subscribe(() => {
      woken = true;
      resume?.();
    });
    try {
      for (;;) {
        woken = false;
        const page = await this.read(after, limit, filter);
        const left = deadline - Date.now();
        if (page.length || left <= 0 || signal.aborted) return page;
        if (woken) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, left);
          signal.addEventListener("abort", done);
          resume = done;
          function done() {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resume = undefined;
            resolve();
          }
        });
      }
    } finally {
      unsubscribe();
    }
  }

  /** Events after a cursor (exclusive), oldest first. */
  async read(after: number, limit = 100, filter: EventFilter = {}): Promise<ChangeEvent[]> {
    const conds = [gt(events.id, after)];
    if (filter.objectType) conds.push(eq(events.objectType, filter.objectType));
    if (filter.objectId !== undefined) conds.push(eq(events.objectId, filter.objectId));
    return this.db
      .select()
      .from(events)
      .where(and(...conds))
      .orderBy(asc(events.id))
      .limit(limit);
  }

  /**
   * The newest events of the given types, newest first, looked for among the last `window` events
   * only, so that a rare type never walks the whole feed (there is no index by type).
   */
  async latest(types: readonly string[], limit: number, window = 20_000): Promise<ChangeEvent[]> {
    if (!types.length) return [];
    const [newest] = await this.db.select({ id: events.id }).from(events).orderBy(desc(events.id)).limit(1);
    return this.db
      .select()
      .from(events)
      .where(and(gt(events.id, (newest?.id ?? 0) - window), inArray(events.type, [...types])))
      .orderBy(desc(events.id))
      .limit(limit);
  }

  /** The newest events of one object, newest first (the timeline on a person's page). */
  async history(objectType: string, objectId: number, limit = 50): Promise<ChangeEvent[]> {
    return this.db
      .select()
      .from(events)
      .where(and(eq(events.objectType, objectType), eq(events.objectId, objectId)))
      .orderBy(desc(events.id))
      .limit(limit);
  }
}
