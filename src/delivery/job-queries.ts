import { and, desc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { statement, type Db, type DbOrTx } from "../db/client";
import { ACTIVE_JOB, deliveryJobs, JOB_STATUSES, type JobStatus } from "./schema";
import type { Job } from "./types";

const jobFilterSchema = z.object({
  status: z.enum(JOB_STATUSES).optional(),
  kind: z.string().optional(),
  destination: z.string().optional(),
  deliveryId: z.string().optional(),
  /** Keyset pagination: jobs with a smaller id (older). */
  beforeId: z.coerce.number().int().optional(),
  /** Pages of up to 500 ask for one more row to learn whether another page follows. */
  limit: z.coerce.number().int().min(1).max(501).default(50),
});
export type JobFilter = z.input<typeof jobFilterSchema>;

/** Newest first, for the UI and the API. */
export async function listJobs(db: Db, filter: JobFilter = {}): Promise<Job[]> {
  const f = jobFilterSchema.parse(filter);
  const where: SQL[] = [];
  if (f.status) where.push(eq(deliveryJobs.status, f.status));
  if (f.status === "pending" || f.status === "running") where.push(sql.raw(ACTIVE_JOB));
  if (f.kind) where.push(eq(deliveryJobs.kind, f.kind));
  if (f.destination) where.push(eq(deliveryJobs.destination, f.destination));
  if (f.deliveryId) where.push(eq(deliveryJobs.deliveryId, f.deliveryId));
  if (f.beforeId !== undefined) where.push(lt(deliveryJobs.id, f.beforeId));
  return await db
    .select()
    .from(deliveryJobs)
    .where(and(...where))
    .orderBy(desc(deliveryJobs.id))
    .limit(f.limit);
}

/** Finished jobs older than `maxAgeMs` go; their HTTP log entries are pruned separately. */
export async function pruneFinishedJobs(db: Db, maxAgeMs: number, now: number = Date.now()): Promise<number> {
  return await db.transaction(async (tx) => q.pruneFinished.run(tx, now - maxAgeMs));
}

/** The newest redelivered copy of a job, if any. */
export async function latestRedelivery(db: DbOrTx, jobId: number): Promise<number | null> {
  return (await q.latestRedelivery.get(db, jobId))?.id ?? null;
}

export type JobCounts = { total: number; done: number; failed: number };

/** How far a run of jobs (a destination's ids from first to last) has come: finished, failed. */
export async function progressOf(db: DbOrTx, destination: string, firstId: number, lastId: number): Promise<JobCounts> {
  const r = (await q.progress.get(db, destination, firstId, lastId))!;
  return { total: r.total, done: r.done ?? 0, failed: r.failed ?? 0 };
}

/** Jobs of one kind created since a time, by status (a backfill's progress). */
export async function countByStatus(db: Db, kind: string, since: Date): Promise<Partial<Record<JobStatus, number>>> {
  const rows = await db
    .select({ status: deliveryJobs.status, n: sql<number>`count(*)` })
    .from(deliveryJobs)
    .where(and(eq(deliveryJobs.kind, kind), gte(deliveryJobs.createdAt, since)))
    .groupBy(deliveryJobs.status);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/**
 * The smallest number a payload field holds among the active jobs of a kind, or null without any:
 * what a feature storing data outside the job (webhook payloads by id) may not prune yet.
 */
export async function minActivePayloadField(db: DbOrTx, kind: string, field: string): Promise<number | null> {
  return (await q.minPayloadField.get(db, field, kind))!.min;
}

/**
 * The failed deliveries of a destination to send again: per delivery id the newest job, when it
 * failed and was created since `since` (a delivery already sent again, or sent again and failed
 * once more, counts once, as its newest job). Ids, oldest first.
 */
export async function failedDeliveryJobIds(
  db: DbOrTx,
  destination: string,
  kind: string,
  since: Date,
): Promise<number[]> {
  return (await q.failedNewest.all(db, destination, kind, since.getTime())).map((r) => r.id);
}

/** The SQL of these queries (one text, or SQLite's and PostgreSQL's twin). */
const q = {
  pruneFinished: statement(
    "DELETE FROM delivery_jobs WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < ?",
  ),
  // Copies share the job's delivery id: an index seek, not a scan.
  latestRedelivery: statement<{ id: number }>(
    `SELECT id FROM delivery_jobs
     WHERE delivery_id = (SELECT delivery_id FROM delivery_jobs WHERE id = ?1) AND redelivery_of = ?1
     ORDER BY id DESC LIMIT 1`,
  ),
  failedNewest: statement<{ id: number }>(
    `SELECT id FROM delivery_jobs j
     WHERE destination = ? AND status = 'failed' AND kind = ? AND created_at >= ?
       AND NOT EXISTS (SELECT 1 FROM delivery_jobs k WHERE k.delivery_id = j.delivery_id AND k.id > j.id)
     ORDER BY id`,
  ),
  progress: statement<{ total: number; done: number | null; failed: number | null }>({
    sqlite: `SELECT COUNT(*) AS total, SUM(status IN ('succeeded', 'failed', 'cancelled')) AS done,
       SUM(status = 'failed') AS failed
     FROM delivery_jobs WHERE destination = ? AND id BETWEEN ? AND ?`,
    postgres: `SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE status IN ('succeeded', 'failed', 'cancelled')) AS done,
       COUNT(*) FILTER (WHERE status = 'failed') AS failed
     FROM delivery_jobs WHERE destination = $1 AND id BETWEEN $2 AND $3`,
  }),
  minPayloadField: statement<{ min: number | null }>({
    sqlite: `SELECT MIN(json_extract(payload, '$.' || ?)) AS min FROM delivery_jobs WHERE kind = ? AND ${ACTIVE_JOB}`,
    postgres: `SELECT MIN((payload::json ->> $1::text)::float8) AS min FROM delivery_jobs
     WHERE kind = $2 AND ${ACTIVE_JOB}`,
  }),
};
