import type { NodeChannel, NodeNotice } from "./client";
import { openPostgres, type PostgresClient } from "./pg-client";

/** The application_name of a node's LISTEN connection (as pg_stat_activity shows it). */
export const LISTEN_APPLICATION_NAME = "switchboard listen";

/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7999;
const CHANNELS: readonly NodeChannel[] = ["changes", "deliveries", "caches"];
const pgChannel = (channel: NodeChannel) => `switchboard_${channel}`;
/** A failed first LISTEN (the server went away after the store opened) is tried again this much later. */
const RETRY_MS = 1_000;

/** What a transaction has notified so far, in order: a rolled back savepoint cuts the list back. */
export type PendingNotices = [NodeChannel, string][];
type Payload = { from: string; keys: string[] | "all" };

/**
 * Wake-ups between nodes on PostgreSQL. A committing transaction runs `notifyStatement` just before
 * its COMMIT: one pg_notify per channel carrying every key it notified, so PostgreSQL delivers it
 * exactly at commit and never for a rollback. Each store listens on one dedicated connection (opened
 * when the first listener subscribes) and fans what it hears out to its listeners. Its own
 * notifications come back too and are dropped (the payload names the store that sent it): the
 * after-commit hooks have already woken this process. When LISTEN is (re)established, after a lost
 * connection that postgres.js reconnects with backoff, every listener is woken once with "all",
 * since notifications sent meanwhile were missed.
 */
export class PgWakeups {
  private readonly origin = crypto.randomUUID();
  private readonly listeners = new Map<NodeChannel, Set<(notice: NodeNotice) => void>>(
    CHANNELS.map((c) => [c, new Set()]),
  );
  private client: PostgresClient | null = null;
  private readonly retries = new Set<ReturnType<typeof setTimeout>>();
  private closed = false;

  constructor(private readonly url: string) {}

  /** The statement and parameters announcing a transaction's notices (null: nothing to announce). */
  notifyStatement(pending: PendingNotices): { text: string; params: string[] } | null {
    if (!pending.length) return null;
    const keys = new Map<NodeChannel, Set<string>>();
    for (const [channel, key] of pending) {
      let set = keys.get(channel);
      if (!set) keys.set(channel, (set = new Set()));
      set.add(key);
    }
    const params: string[] = [];
    for (const [channel, set] of keys) params.push(pgChannel(channel), this.payload([...set]));
    const calls = Array.from({ length: keys.size }, (_, i) => `pg_notify($${2 * i + 1}, $${2 * i + 2})`);
    return { text: `SELECT ${calls.join(", ")}`, params };
  }

  on(channel: NodeChannel, listener: (notice: NodeNotice) => void): () => void {
    this.listeners.get(channel)!.add(listener);
    if (!this.client && !this.closed) {
      this.client = openPostgres(this.url, { max: 1, applicationName: LISTEN_APPLICATION_NAME });
      for (const c of CHANNELS) this.listen(c);
    }
    return () => void this.listeners.get(channel)!.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const retry of this.retries) clearTimeout(retry);
    await this.client?.end({ timeout: 0 });
  }

  private payload(keys: string[]): string {
    const text = JSON.stringify({ from: this.origin, keys } satisfies Payload);
    if (Buffer.byteLength(text) <= MAX_PAYLOAD_BYTES) return text;
    return JSON.stringify({ from: this.origin, keys: "all" } satisfies Payload);
  }

  private listen(channel: NodeChannel): void {
    const heard = (text: string) => this.heard(channel, text);
    this.client!.listen(pgChannel(channel), heard, () => this.fanOut(channel, "all")).catch(() => {
      if (this.closed) return;
      const retry = setTimeout(() => {
        this.retries.delete(retry);
        if (!this.closed) this.listen(channel);
      }, RETRY_MS);
      this.retries.add(retry);
    });
  }

  private heard(channel: NodeChannel, text: string): void {
    let payload: Payload | null = null;
    try {
      payload = JSON.parse(text) as Payload;
    } catch {
      // Not ours to read: wake everything rather than miss something.
    }
    if (payload?.from === this.origin) return;
    this.fanOut(channel, Array.isArray(payload?.keys) ? payload.keys : "all");
  }

  private fanOut(channel: NodeChannel, notice: NodeNotice): void {
    for (const listener of this.listeners.get(channel)!) listener(notice);
  }
}
