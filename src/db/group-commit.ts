import { AsyncResource } from "node:async_hooks";
import type { Db, Tx } from "./client";

type Pending = { work: (tx: Tx) => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void };

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
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      await this.db.transaction(async (tx) => {
        for (const item of batch) {
          try {
            outcomes.push({ ok: true, value: await tx.savepoint(item.work) });
          } catch (err) {
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
