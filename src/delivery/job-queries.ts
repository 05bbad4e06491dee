import { and, desc, eq, lt, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client";
import { ACTIVE_JOB, deliveryJobs, JOB_STATUSES } from "./schema";
import type { Job } from "./types";

export const jobFilterSchema = z.object({
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
export function listJobs(db: Db, filter: JobFilter = {}): Job[] {
  const f = jobFilterSchema.parse(filter);
  const where: SQL[] = [];
  if (f.status) where.push(eq(deliveryJobs.status, f.status));
  if (f.status === "pending" || f.status === "running") where.push(sql.raw(ACTIVE_JOB));
  if (f.kind) where.push(eq(deliveryJobs.kind, f.kind));
  if (f.destination) where.push(eq(deliveryJobs.destination, f.destination));
  if (f.deliveryId) where.push(eq(deliveryJobs.deliveryId, f.deliveryId));
  if (f.beforeId !== undefined) where.push(lt(deliveryJobs.id, f.beforeId));
  return db.select().from(deliveryJobs).where(and(...where)).orderBy(desc(deliveryJobs.id)).limit(f.limit).all();
}

export function getJob(db: Db, id: number): Job | undefined {
  return db.select().from(deliveryJobs).where(eq(deliveryJobs.id, id)).get();
}

/** Finished jobs older than `maxAgeMs` go; their HTTP log entries are pruned separately. */
export function pruneFinishedJobs(db: Db, maxAgeMs: number, now: number = Date.now()): number {
  return db.$client.run("DELETE FROM delivery_jobs WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < ?", [now - maxAgeMs]).changes;
}
