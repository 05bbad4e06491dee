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
type AfterCommitListener = (lastEventId: number) => void;

/**
 * The change feed. `record` writes the event row inside the caller's transaction and runs the
 * in-transaction hooks in order (consumers that enqueue durable jobs, so job and event commit
 * together). Once the transaction has committed, listeners are woken once (no polling); a rolled
 * back transaction wakes nobody.
 */
export class EventFeed {
  private hooks: InTransactionHook[] = [];
  private listeners = new Set<AfterCommitListener>();
  private lastId = 0;
  private readonly wake = () => {
    for (const l of this.listeners) l(this.lastId);
  };

  constructor(private readonly db: Db) {}

  /** Consumers that must act in the same transaction as the change (e.g. enqueue a delivery). */
  onRecord(hook: InTransactionHook): void {
    this.hooks.push(hook);
  }

  /** Wakes after commit with the newest event id; returns an unsubscribe function. */
  subscribe(listener: AfterCommitListener): () => void {
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
    this.lastId = Math.max(this.lastId, row!.id);
    tx.afterCommit(this.wake);
    return row!;
  }

  /** Events after a cursor (exclusive), oldest first. */
  async read(
    after: number,
    limit = 100,
    filter: { objectType?: string; objectId?: number } = {},
  ): Promise<ChangeEvent[]> {
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
