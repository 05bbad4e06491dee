import type { Database, Statement } from "bun:sqlite";
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
 * The hot-path SQL of the queue, prepared once (drizzle would prepare anew on every call). The
 * statements run on the shared connection, so inside whatever transaction the caller has open.
 */
export class JobStore {
  private s: Record<string, Statement>;

  constructor(private readonly sqlite: Database) {
    const q = (sql: string) => sqlite.prepare(sql);
    this.s = {
      addDestination: q("INSERT INTO delivery_destinations (key) VALUES (?) ON CONFLICT(key) DO NOTHING"),
      destinationOptions: q("SELECT strict_order AS strict FROM delivery_destinations WHERE key = ?"),
      activeWithKey: q(`SELECT 1 AS one FROM delivery_jobs WHERE ordering_key = ? AND ${ACTIVE_JOB} LIMIT 1`),
      insert: q(
        `INSERT INTO delivery_jobs (kind, destination, ordering_key, payload, blocked, max_attempts, run_at,
           delivery_id, redelivery_of, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      ),
      // Ids and due times only: a claim pass looks at more candidates than it claims, and parsing
      // their payloads was most of its cost.
      due: q(
        `SELECT id, run_at AS runAt FROM delivery_jobs
         WHERE destination = ? AND status = 'pending' AND blocked = 0 AND run_at <= ?
           AND kind IN (SELECT value FROM json_each(?))
         ORDER BY run_at, id LIMIT ?`,
      ),
      nextDue: q(
        `SELECT MIN(run_at) AS at FROM delivery_jobs
         WHERE destination = ? AND status = 'pending' AND blocked = 0 AND run_at > ?`,
      ),
      claim: q(
        `UPDATE delivery_jobs SET status = 'running', attempts = attempts + 1, lease_until = ?, updated_at = ?
         WHERE id = ? AND status = 'pending' RETURNING *`,
      ),
      finish: q(
        `UPDATE delivery_jobs SET status = ?, lease_until = NULL, last_error = ?, last_status = ?,
           failed_attempts = failed_attempts + ?, updated_at = ?, finished_at = ?
         WHERE id = ? AND status = 'running'`,
      ),
      reschedule: q(
        `UPDATE delivery_jobs SET status = 'pending', lease_until = NULL, run_at = ?, last_error = ?, last_status = ?,
           failed_attempts = failed_attempts + ?, updated_at = ?
         WHERE id = ? AND status = 'running'`,
      ),
      // Keeps the invariant "the lowest-id active job of an ordering key is unblocked".
      unblockNext: q(
        `UPDATE delivery_jobs SET blocked = 0
         WHERE id = (SELECT MIN(id) FROM delivery_jobs WHERE ordering_key = ? AND ${ACTIVE_JOB}) AND blocked = 1`,
      ),
      expiredLeases: q("SELECT id FROM delivery_jobs WHERE status = 'running' AND lease_until < ?"),
      release: q(
        `UPDATE delivery_jobs SET status = 'pending', lease_until = NULL, updated_at = ?
         WHERE id = ? AND status = 'running'`,
      ),
      get: q("SELECT * FROM delivery_jobs WHERE id = ?"),
      cancel: q(
        `UPDATE delivery_jobs SET status = 'cancelled', updated_at = ?, finished_at = ?
         WHERE id = ? AND status = 'pending' RETURNING ordering_key, destination`,
      ),
      // Asked by feature modules on their hot paths (a CRM update per changed person): prepared too.
      pendingOfKey: q(
        `SELECT payload FROM delivery_jobs
         WHERE ordering_key = ? AND ${ACTIVE_JOB} AND status = 'pending' AND kind = ?`,
      ),
      activeOf: q(`SELECT COUNT(*) AS n FROM delivery_jobs WHERE destination = ? AND ${ACTIVE_JOB}`),
      lastId: q("SELECT COALESCE(MAX(id), 0) AS id FROM delivery_jobs"),
    };
  }

  insert(job: NewJobRow, now: number): number {
    // A read first: the destination almost always exists, and a write attempt costs more.
    const destination = this.s.destinationOptions!.get(job.destination) as { strict: number } | null;
    if (!destination) this.s.addDestination!.run(job.destination);
    const blocked = job.orderingKey && destination?.strict === 1 && this.s.activeWithKey!.get(job.orderingKey) ? 1 : 0;
    const row = this.s.insert!.get(
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
    ) as { id: number };
    return row.id;
  }

  dueJobs(destination: string, now: number, kindsJson: string, limit: number): DueJob[] {
    return this.s.due!.all(destination, now, kindsJson, limit) as DueJob[];
  }

  nextDueAt(destination: string, now: number): number | null {
    return (this.s.nextDue!.get(destination, now) as { at: number | null }).at;
  }

  /** Leases a pending job; null when it is no longer pending. */
  claim(id: number, leaseUntil: number, now: number): Job | null {
    const row = this.s.claim!.get(leaseUntil, now, id) as JobRow | null;
    return row ? rowToJob(row) : null;
  }

  finish(
    job: Job,
    status: "succeeded" | "failed",
    error: string | null,
    httpStatus: number | null,
    addFailure: boolean,
    now: number,
  ): void {
    this.s.finish!.run(status, error, httpStatus, addFailure ? 1 : 0, now, now, job.id);
    if (job.orderingKey) this.s.unblockNext!.run(job.orderingKey);
  }

  reschedule(
    job: Job,
    runAt: number,
    error: string | null,
    httpStatus: number | null,
    addFailure: boolean,
    now: number,
  ): void {
    this.s.reschedule!.run(runAt, error, httpStatus, addFailure ? 1 : 0, now, job.id);
  }

  /**
   * Only pending jobs can be cancelled: a running one is already on the wire. Returns the cancelled job's destination.
   */
  cancel(id: number, now: number): { destination: string } | null {
    const row = this.s.cancel!.get(now, now, id) as { ordering_key: string | null; destination: string } | null;
    if (!row) return null;
    if (row.ordering_key) this.s.unblockNext!.run(row.ordering_key);
    return { destination: row.destination };
  }

  /** At start nothing of ours is in flight, so every 'running' row is left over from a crash. */
  recoverAllRunning(now: number): number {
    return this.sqlite.run(
      "UPDATE delivery_jobs SET status = 'pending', lease_until = NULL, updated_at = ? WHERE status = 'running'",
      [now],
    ).changes;
  }

  /** Jobs whose lease ran out and that are not in flight here go back to pending. */
  releaseExpired(now: number, inFlight: ReadonlySet<number>): number {
    let released = 0;
    for (const { id } of this.s.expiredLeases!.all(now) as { id: number }[]) {
      if (!inFlight.has(id)) released += this.s.release!.run(now, id).changes;
    }
    return released;
  }

  /** Active and failed jobs are counted from their small partial indexes (the /metrics gauges). */
  count(status: JobStatus): number {
    const where =
      status === "pending" || status === "running" ? `${ACTIVE_JOB} AND status = '${status}'` : `status = '${status}'`;
    return (this.sqlite.query(`SELECT COUNT(*) AS n FROM delivery_jobs WHERE ${where}`).get() as { n: number }).n;
  }

  /** Payloads of the pending jobs of one kind sharing an ordering key (few: they are sent one at a time). */
  pendingPayloads(orderingKey: string, kind: string): unknown[] {
    return (this.s.pendingOfKey!.all(orderingKey, kind) as { payload: string }[]).map((r) => JSON.parse(r.payload));
  }

  /** Jobs of a destination still to send or on the wire. */
  countActive(destination: string): number {
    return (this.s.activeOf!.get(destination) as { n: number }).n;
  }

  /** The newest job's id (0 without any): ids grow, so jobs queued later have larger ones. */
  lastId(): number {
    return (this.s.lastId!.get() as { id: number }).id;
  }

  get(id: number): Job | null {
    const row = this.s.get!.get(id) as JobRow | null;
    return row ? rowToJob(row) : null;
  }
}
