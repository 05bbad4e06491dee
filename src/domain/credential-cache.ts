import type { Db, Tx } from "../db/client";

/** The NodeCache channel key other nodes drop their copies on (db.onNodesNotify("caches")). */
const CHANNEL_KEY = "credentials";
const MAX_ENTRIES = 1000;

/**
 * Bumped by every write that may end a credential's access (a revocation, an owner deactivated or no
 * longer an administrator, deleted): a copy read before the bump is never used after it, in any
 * store of this process (over-dropping is harmless).
 */
let generation = 0;
const bump = () => void generation++;

/**
 * In the writing transaction: credentials authenticated from memory are read again, here at once and
 * after commit, and on the other nodes at commit (PostgreSQL's NOTIFY; nodes sharing a SQLite file
 * read again after a second).
 */
export function credentialsChanged(tx: Tx): void {
  bump();
  tx.afterCommit(bump);
  tx.notifyNodes("caches", CHANNEL_KEY);
}

type Entry<T> = { value: T; readAt: number; generation: number };

/**
 * Credentials that authenticated lately, by hash, per store: an API request's token check is a read
 * of the read connection, which after every commit finds its page cache dropped. Only successes are
 * kept (a token made a moment ago by the CLI works at once); a failure is never remembered.
 */
export class CredentialCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly maxAgeMs: number;

  constructor(db: Db) {
    this.maxAgeMs = db.describe.kind === "postgres" ? 60_000 : 1_000;
    db.onNodesNotify("caches", (notice) => {
      if (notice === "all" || notice.includes(CHANNEL_KEY)) bump();
    });
  }

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.generation === generation && Date.now() - entry.readAt <= this.maxAgeMs) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Reads through `read`, keeping what `keep` accepts; a read that a change overtook is answered but not kept. */
  async read(key: string, read: () => Promise<T | undefined>, keep: (value: T) => boolean): Promise<T | undefined> {
    const before = generation;
    const readAt = Date.now();
    const value = await read();
    if (value !== undefined && before === generation && keep(value)) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, { value, readAt, generation: before });
    }
    return value;
  }
}

const caches = new WeakMap<Db, CredentialCache<unknown>>();

/** The store's cache (one per store object: the server's Core db). */
export function credentialCacheOf<T>(db: Db): CredentialCache<T> {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new CredentialCache(db)));
  return cache as CredentialCache<T>;
}
