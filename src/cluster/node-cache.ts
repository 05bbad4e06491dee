import type { Db, Tx } from "../db/client";

/** The copies of database rows a node keeps in memory that writes through any node may change. */
export type NodeCacheName = "webhook-routes" | "webhooks" | "audiences" | "clearbit-settings" | "crm-syncs";

/**
 * A node's in-memory copy of something read from the database (webhook routes, audience
 * definitions, the Clearbit settings). A write changing it calls `changed(tx)` in its transaction:
 * the copy is dropped on this node at once and at commit, and on every other node when the commit's NOTIFY arrives
 * (PostgreSQL; a reconnect drops it too, as notices may have been missed). Nodes sharing one SQLite
 * file have no NOTIFY: there a copy is read again once older than a second. A read that was under
 * way when the copy was dropped is not kept (it may predate the change). Reads asked while one is under
 * way share it, unless the copy was dropped since it started (a drop is a change it may predate).
 */
export class NodeCache<T> {
  private held: { readAt: number; value: T } | null = null;
  private reading: { generation: number; value: Promise<T> } | null = null;
  private generation = 0;
  private readonly maxAgeMs: number;

  constructor(
    db: Db,
    private readonly name: NodeCacheName,
    private readonly read: () => Promise<T>,
  ) {
    this.maxAgeMs = db.describe.kind === "postgres" ? 60_000 : 1_000;
    db.onNodesNotify("caches", (notice) => {
      if (notice === "all" || notice.includes(name)) this.drop();
    });
  }

  async get(): Promise<T> {
    const now = Date.now();
    if (this.held && now - this.held.readAt <= this.maxAgeMs) return this.held.value;
    const generation = this.generation;
    if (this.reading?.generation === generation) return await this.reading.value;
    const reading = { generation, value: this.read() };
    this.reading = reading;
    try {
      const value = await reading.value;
      if (generation === this.generation) this.held = { readAt: now, value };
      return value;
    } finally {
      if (this.reading === reading) this.reading = null;
    }
  }

  /** In the writing transaction: read again here now and after commit, and on the other nodes at commit. */
  changed(tx: Tx): void {
    this.drop();
    tx.afterCommit(() => this.drop());
    tx.notifyNodes("caches", this.name);
  }

  private drop(): void {
    this.held = null;
    this.generation++;
  }
}
