import { statement, type DbOrTx, type Tx } from "../db/client";
import { ACTIVE_JOB, type JobStatus } from "./schema";
import type { Job } from "./types";

type JobRow = {
  id: number;
  kind: string;
  destination: string;
  ordering_key: string | null;
  payload: string;
  status: JobStatus;
  blocked: number;
  attempts: number;
  failed_attempts: number;
  max_attempts: number;
  run_at: number;
  lease_until: number | null;
  delivery_id: string;
  redelivery_of: number | null;
  last_error: string | null;
  last_status: number | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
};

function rowToJob(r: JobRow): Job {
  const date = (ms: number | null) => (ms === null ? null : new Date(ms));
  return {
    id: r.id,
    kind: r.kind,
    destination: r.destination,
    orderingKey: r.ordering_key,
    payload: JSON.parse(r.payload),
    status: r.status,
    blocked: r.blocked === 1,
    attempts: r.attempts,
    failedAttempts: r.failed_attempts,
    maxAttempts: r.max_attempts,
    runAt: new Date(r.run_at),
    leaseUntil: date(r.lease_until),
    deliveryId: r.delivery_id,
    redeliveryOf: r.redelivery_of,
    lastError: r.last_error,
    lastStatus: r.last_status,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
    finishedAt: date(r.finished_at),
  };
}

/** A claim candidate: enough to order candidates across destinations. */
export type DueJob = { id: number; runAt: number };

export type NewJobRow = {
  kind: string;
  destination: string;
  orderingKey: string | null;
  payload: string;
  maxAttempts: number;
  runAt: number;
  deliveryId: string;
  redeliveryOf: number | null;
};

/**
 * The hot-path SQL of the queue, each statement compiled once per connection (drizzle would build
 * it anew on every call). One text where both dialects speak it, else SQLite's and its PostgreSQL
 * twin side by side. Reads take either handle; writes a transaction.
 */
const q = {
  addDestination: statement("INSERT INTO delivery_destinations (key) VALUES (?) ON CONFLICT(key) DO NOTHING"),
  destinationOptions: statement<{ strict: number }>(
    "SELECT strict_order AS strict FROM delivery_destinations WHERE key = ?",
  ),
  activeWithKey: statement(`SELECT 1 AS one FROM delivery_jobs WHERE ordering_key = ? AND ${ACTIVE_JOB} LIMIT 1`),
  insert: statement<{ id: number }>(
    `INSERT INTO delivery_jobs (kind, destination, ordering_key, payload, blocked, max_attempts, run_at,
       delivery_id, redelivery_of, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  ),
  // Ids and due times only: a claim pass looks at more candidates than it claims, and parsing
  // their payloads was most of its cost.
  due: statement<DueJob>({
    sqlite: `SELECT id, run_at AS runAt FROM delivery_jobs
     WHERE destination = ? AND status = 'pending' AND blocked = 0 AND run_at <= ?
       AND kind IN (SELECT value FROM json_each(?))
     ORDER BY run_at, id LIMIT ?`,
    postgres: `SELECT id, run_at AS "runAt" FROM delivery_jobs
     WHERE destination = $1 AND status = 'pending' AND NOT blocked AND run_at <= $2
       AND kind IN (SELECT json_array_elements_text($3::json))
     ORDER BY run_at, id LIMIT $4`,
  }),
  nextDue: statement<{ at: number | null }>({
    sqlite: `SELECT MIN(run_at) AS at FROM delivery_jobs
     WHERE destination = ? AND status = 'pending' AND blocked = 0 AND run_at > ?`,
    postgres: `SELECT MIN(run_at) AS at FROM delivery_jobs
     WHERE destination = $1 AND status = 'pending' AND NOT blocked AND run_at > $2`,
  }),
  claim: statement<JobRow>(
    `UPDATE delivery_jobs SET status = 'running', attempts = attempts + 1, lease_until = ?, updated_at = ?
     WHERE id = ? AND status = 'pending' RETURNING *`,
  ),
  finish: statement(
    `UPDATE delivery_jobs SET status = ?, lease_until = NULL, last_error = ?, last_status = ?,
       failed_attempts = failed_attempts + ?, updated_at = ?, finished_at = ?
     WHERE id = ? AND status = 'running'`,
  ),
  reschedule: statement(
    `UPDATE delivery_jobs SET status = 'pending', lease_until = NULL, run_at = ?, last_error = ?, last_status = ?,
       failed_attempts = failed_attempts + ?, updated_at = ?
     WHERE id = ? AND status = 'running'`,
  ),
  // Keeps the invariant "the lowest-id active job of an ordering key is unblocked".
  unblockNext: statement({
    sqlite: `UPDATE delivery_jobs SET blocked = 0
     WHERE id = (SELECT MIN(id) FROM delivery_jobs WHERE ordering_key = ? AND ${ACTIVE_JOB}) AND blocked = 1`,
    postgres: `UPDATE delivery_jobs SET blocked = false
     WHERE id = (SELECT MIN(id) FROM delivery_jobs WHERE ordering_key = $1 AND ${ACTIVE_JOB}) AND blocked`,
  }),
  expiredLeases: statement<{ id: number }>("SELECT id FROM delivery_jobs WHERE status = 'running' AND lease_until < ?"),
  release: statement(
    `UPDATE delivery_jobs SET status = 'pending', lease_until = NULL, updated_at = ?
     WHERE id = ? AND status = 'running'`,
  ),
  recoverAll: statement(
    "UPDATE delivery_jobs SET status = 'pending', lease_until = NULL, updated_at = ? WHERE status = 'running'",
  ),
  get: statement<JobRow>("SELECT * FROM delivery_jobs WHERE id = ?"),
  cancel: statement<{ ordering_key: string | null; destination: string }>(
    `UPDATE delivery_jobs SET status = 'cancelled', updated_at = ?, finished_at = ?
     WHERE id = ? AND status = 'pending' RETURNING ordering_key, destination`,
  ),
  // Asked by feature modules on their hot paths (a CRM update per changed person): prepared too.
  // On PostgreSQL the rows are locked: a job a transaction counts on (a CRM update folded into it) is
  // claimed only once that transaction has committed, so the send reads what it wrote.
  pendingOfKey: statement<{ payload: string }>({
    sqlite: `SELECT payload FROM delivery_jobs
     WHERE ordering_key = ? AND ${ACTIVE_JOB} AND status = 'pending' AND kind = ?`,
    postgres: `SELECT payload FROM delivery_jobs
     WHERE ordering_key = $1 AND ${ACTIVE_JOB} AND status = 'pending' AND kind = $2 FOR UPDATE`,
  }),
  activeOf: statement<{ n: number }>(`SELECT COUNT(*) AS n FROM delivery_jobs WHERE destination = ? AND ${ACTIVE_JOB}`),
  lastId: statement<{ id: number }>("SELECT COALESCE(MAX(id), 0) AS id FROM delivery_jobs"),
  count: Object.fromEntries(
    (["pending", "running", "succeeded", "failed", "cancelled"] as const).map((status) => [
      status,
      statement<{ n: number }>(
        `SELECT COUNT(*) AS n FROM delivery_jobs WHERE ${
          status === "pending" || status === "running"
            ? `${ACTIVE_JOB} AND status = '${status}'`
            : `status = '${status}'`
        }`,
      ),
    ]),
  ) as Record<JobStatus, ReturnType<typeof statement<{ n: number }>>>,
};

/** The queue's rows: every read and write of the delivery engine's hot paths. */
export class JobStore {
  async insert(tx: Tx, job: NewJobRow, now: number): Promise<number> {
    // A read first: the destination almost always exists, and a write attempt costs more.
    const destination = await q.destinationOptions.get(tx, job.destination);
    if (!destination) await q.addDestination.run(tx, job.destination);
    const blocked =
      job.orderingKey && destination?.strict === 1 && (await q.activeWithKey.get(tx, job.orderingKey)) ? 1 : 0;
    const row = await q.insert.get(
      tx,
      job.kind,
      job.destination,
      job.orderingKey,
      job.payload,
      blocked,
      job.maxAttempts,
      job.runAt,
      job.deliveryId,
      job.redeliveryOf,
      now,
      now,
    );
    return row!.id;
  }

  async dueJobs(db: DbOrTx, destination: string, now: number, kindsJson: string, limit: number): Promise<DueJob[]> {
    return await q.due.all(db, destination, now, kindsJson, limit);
  }

  async nextDueAt(db: DbOrTx, destination: string, now: number): Promise<number | null> {
    return (await q.nextDue.get(db, destination, now))!.at;
  }

  /** Leases a pending job; null when it is no longer pending. */
  async claim(tx: Tx, id: number, leaseUntil: number, now: number): Promise<Job | null> {
    const row = await q.claim.get(tx, leaseUntil, now, id);
    return row ? rowToJob(row) : null;
  }

  async finish(
    tx: Tx,
    job: Job,
    status: "succeeded" | "failed",
    error: string | null,
    httpStatus: number | null,
    addFailure: boolean,
    now: number,
  ): Promise<void> {
    await q.finish.run(tx, status, error, httpStatus, addFailure ? 1 : 0, now, now, job.id);
    if (job.orderingKey) await q.unblockNext.run(tx, job.orderingKey);
  }

  async reschedule(
    tx: Tx,
    job: Job,
    runAt: number,
    error: string | null,
    httpStatus: number | null,
    addFailure: boolean,
    now: number,
  ): Promise<void> {
    await q.reschedule.run(tx, runAt, error, httpStatus, addFailure ? 1 : 0, now, job.id);
  }

  /**
   * Only pending jobs can be cancelled: a running one is already on the wire. Returns the cancelled job's destination.
   */
  async cancel(tx: Tx, id: number, now: number): Promise<{ destination: string } | null> {
    const row = await q.cancel.get(tx, now, now, id);
    if (!row) return null;
    if (row.ordering_key) await q.unblockNext.run(tx, row.ordering_key);
    return { destination: row.destination };
  }

  /** At start nothing of ours is in flight, so every 'running' row is left over from a crash. */
  async recoverAllRunning(tx: Tx, now: number): Promise<number> {
    return await q.recoverAll.run(tx, now);
  }

  /** Jobs whose lease ran out and that are not in flight here go back to pending. */
  async releaseExpired(tx: Tx, now: number, inFlight: ReadonlySet<number>): Promise<number> {
    let released = 0;
    for (const { id } of await q.expiredLeases.all(tx, now)) {
      if (!inFlight.has(id)) released += await q.release.run(tx, now, id);
    }
    return released;
  }

  /** Active and failed jobs are counted from their small partial indexes (the /metrics gauges). */
  async count(db: DbOrTx, status: JobStatus): Promise<number> {
    return (await q.count[status].get(db))!.n;
  }

  /** Payloads of the pending jobs of one kind sharing an ordering key (few: they are sent one at a time). */
  async pendingPayloads(db: DbOrTx, orderingKey: string, kind: string): Promise<unknown[]> {
    return (await q.pendingOfKey.all(db, orderingKey, kind)).map((r) => JSON.parse(r.payload));
  }

  /** Jobs of a destination still to send or on the wire. */
  async countActive(db: DbOrTx, destination: string): Promise<number> {
    return (await q.activeOf.get(db, destination))!.n;
  }

  /** The newest job's id (0 without any): ids grow, so jobs queued later have larger ones. */
  async lastId(db: DbOrTx): Promise<number> {
    return (await q.lastId.get(db))!.id;
  }

  async get(db: DbOrTx, id: number): Promise<Job | null> {
    const row = await q.get.get(db, id);
    return row ? rowToJob(row) : null;
  }
}
