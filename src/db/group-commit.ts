import { AsyncResource } from "node:async_hooks";
import type { Metrics } from "../metrics";
import type { Db, Tx } from "./client";

type Pending = { work: (tx: Tx) => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void };

/**
 * SQLite errors after which the transaction may be gone (SQLite rolls a whole transaction back on a
 * full disk, an I/O error or lack of memory): the batch cannot go on, so every write in it fails.
 */
const ABORTS_TRANSACTION = /^SQLITE_(FULL|IOERR|NOMEM|BUSY|INTERRUPT|CORRUPT|NOTADB|READONLY)|no such savepoint/;

function abortsTransaction(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (ABORTS_TRANSACTION.test(`${typeof code === "string" ? code : ""}`) || ABORTS_TRANSACTION.test(`${message}`))
      return true;
  }
  return false;
}

/**
 * Group commit: writes that arrive while others are waiting share one transaction, each in its own
 * savepoint, so one failing write rolls back alone. A commit costs far more than the statements
 * inside it (WAL frames for every index page touched), so under concurrency this multiplies write
 * throughput; every caller still answers only after its data is committed. The batch is one
 * store transaction, so it queues with every other transaction on the write connection.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  /** Writes run and transactions committed (or rolled back) for them, for /metrics. */
  readonly counts = { writes: 0, transactions: 0 };

  constructor(
    private readonly db: Db,
    private readonly maxBatch = 256,
  ) {}

  run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // Each write runs in its caller's async context (request-scoped state such as the hop count).
      this.queue.push({ work: AsyncResource.bind(work), resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate lets the requests already read by the server join this batch.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue.splice(0, this.maxBatch);
    if (this.queue.length) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
    this.counts.writes += batch.length;
    this.counts.transactions++;
    if (batch.length === 1) {
      // Alone, the transaction itself is the write's savepoint.
      const [only] = batch as [Pending];
      await this.db.transaction(only.work).then(only.resolve, only.reject);
      return;
    }
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      await this.db.transaction(async (tx) => {
        for (const item of batch) {
          try {
            outcomes.push({ ok: true, value: await tx.savepoint(item.work) });
          } catch (err) {
            if (abortsTransaction(err)) throw err;
            outcomes.push({ ok: false, value: err });
          }
        }
      });
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    for (const [i, item] of batch.entries()) {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.value);
    }
  }
}

/**
 * The store whose transactions go through a group commit: what request handlers (REST, admin pages,
 * ingest) write shares commits without knowing it. Reads and everything else are the store's own.
 */
export function groupCommitted(db: Db, writes: GroupCommit = new GroupCommit(db)): Db {
  const store = Object.create(db) as Db;
  store.transaction = (work) => writes.run(work);
  return store;
}

/** How well writes share commits: writes per transaction is the batching factor. */
export function registerGroupCommitMetrics(metrics: Metrics, writes: GroupCommit): void {
  metrics.registerCounter(
    "switchboard_writes_total",
    "Write transactions asked for (requests' writes).",
    () => writes.counts.writes,
  );
  metrics.registerCounter(
    "switchboard_write_commits_total",
    "Database transactions those writes shared (group commit).",
    () => writes.counts.transactions,
  );
}
