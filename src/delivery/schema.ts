import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Milliseconds since the epoch, read back as Date. */
const timestamp = (name: string) => integer(name, { mode: "timestamp_ms" });
const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`;

export const JOB_STATUSES = ["pending", "running", "succeeded", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 * The condition of the partial indexes of active jobs. Queries about active jobs use this exact
 * text: SQLite uses a partial index only when the query repeats its condition.
 */
export const ACTIVE_JOB = "status IN ('pending', 'running')";

/**
 * The condition of the partial index of leased jobs (few: at most the sends in flight). A claim counts
 * a destination's leases by it: through the active jobs' index, SQLite would walk its whole backlog.
 */
export const RUNNING_JOB = "status = 'running'";

/**
 * Durable delivery jobs. The claim path reads only `delivery_jobs_ready_idx` (pending, unblocked,
 * by destination and due time), so it stays an index seek however many rows wait. A job changes
 * status twice (claimed, finished) and every index keyed on status is rewritten each time, so only
 * small partial indexes are: the active jobs, and the failed ones (rare, and what admins look for).
 * Delivery ids are UUIDv7, so their index grows at its end like the others.
 */
export const deliveryJobs = sqliteTable(
  "delivery_jobs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    kind: text("kind").notNull(),
    /** Who receives it, e.g. "webhook:3"; limits, health and pausing are per destination. */
    destination: text("destination").notNull(),
    /** Jobs sharing it run one at a time in id order when the destination is strict-order. */
    orderingKey: text("ordering_key"),
    payload: text("payload", { mode: "json" }).$type<unknown>().notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull().default("pending"),
    /** 1 while an earlier job with the same ordering key is pending or running (strict order only). */
    blocked: integer("blocked", { mode: "boolean" }).notNull().default(false),
    /** Attempts made (numbers the HTTP log); some outcomes (pause, 202 "later") do not count as failures. */
    attempts: integer("attempts").notNull().default(0),
    /** Attempts that failed; the job fails for good when this reaches max_attempts. */
    failedAttempts: integer("failed_attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    runAt: timestamp("run_at").notNull(),
    leaseUntil: timestamp("lease_until"),
    /** The node holding the lease while running (--node-id); its lease ends at lease_until unless renewed. */
    leaseOwner: text("lease_owner"),
    /** Stable across retries and redeliveries: receivers use it to drop duplicates. */
    deliveryId: text("delivery_id").notNull(),
    /** Set on a redelivered copy: the job it was copied from. */
    redeliveryOf: integer("redelivery_of"),
    lastError: text("last_error"),
    lastStatus: integer("last_status"),
    createdAt: timestamp("created_at").notNull().default(now),
    updatedAt: timestamp("updated_at").notNull().default(now),
    finishedAt: timestamp("finished_at"),
  },
  (t) => [
    index("delivery_jobs_ready_idx").on(t.destination, t.runAt, t.id).where(sql`status = 'pending' AND blocked = 0`),
    index("delivery_jobs_ordering_idx")
      .on(t.orderingKey, t.id)
      .where(sql.raw(`ordering_key IS NOT NULL AND ${ACTIVE_JOB}`)),
    index("delivery_jobs_destination_idx").on(t.destination, t.id),
    index("delivery_jobs_active_idx").on(t.destination, t.status).where(sql.raw(ACTIVE_JOB)),
    index("delivery_jobs_running_idx").on(t.destination).where(sql.raw(RUNNING_JOB)),
    index("delivery_jobs_failed_idx").on(t.destination, t.id).where(sql`status = 'failed'`),
    index("delivery_jobs_delivery_id_idx").on(t.deliveryId),
  ],
);

/**
 * One row per destination (created on first enqueue): its options and its health. A disabled or
 * paused destination keeps its jobs queued until enableDestination().
 */
export const deliveryDestinations = sqliteTable("delivery_destinations", {
  key: text("key").primaryKey(),
  /** In-flight sends allowed at once; null = the engine default. */
  concurrency: integer("concurrency"),
  strictOrder: integer("strict_order", { mode: "boolean" }).notNull().default(false),
  lastSuccessAt: timestamp("last_success_at"),
  lastFailureAt: timestamp("last_failure_at"),
  lastError: text("last_error"),
  /** First failure since the last success; null while healthy. */
  failingSince: timestamp("failing_since"),
  consecutiveFailures: integer("consecutive_failures").notNull().default(0),
  disabledAt: timestamp("disabled_at"),
  disabledReason: text("disabled_reason"),
  pausedAt: timestamp("paused_at"),
  /** Null with paused_at set: paused until an admin (or a key change) re-enables it. */
  pausedUntil: timestamp("paused_until"),
  pauseReason: text("pause_reason"),
  createdAt: timestamp("created_at").notNull().default(now),
});

/** Every HTTP attempt, secrets redacted, bodies truncated; pruned by age and total size. */
export const httpLog = sqliteTable(
  "http_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    createdAt: timestamp("created_at").notNull(),
    facility: text("facility").notNull(),
    direction: text("direction", { enum: ["outbound", "inbound"] }).notNull(),
    method: text("method").notNull(),
    url: text("url").notNull(),
    requestHeaders: text("request_headers", { mode: "json" }).$type<Record<string, string>>().notNull(),
    requestBody: text("request_body"),
    responseStatus: integer("response_status"),
    responseHeaders: text("response_headers", { mode: "json" }).$type<Record<string, string>>(),
    responseBody: text("response_body"),
    durationMs: integer("duration_ms").notNull(),
    error: text("error"),
    attempt: integer("attempt"),
    deliveryId: text("delivery_id"),
    jobId: integer("job_id"),
    destination: text("destination"),
    /** Approximate bytes this row stores, summed by size-based pruning. */
    sizeBytes: integer("size_bytes").notNull(),
  },
  (t) => [
    index("http_log_job_idx").on(t.jobId),
    index("http_log_delivery_idx").on(t.deliveryId),
    index("http_log_destination_idx").on(t.destination, t.id),
    index("http_log_facility_idx").on(t.facility, t.id),
  ],
);

/**
 * Attempts per facility in 5-minute periods, for the operations dashboard: one upsert in the tick's
 * transaction as each attempt is recorded, so a day's figures are at most 288 rows of a primary-key
 * range, never a scan of the HTTP log. Kept two days.
 */
export const deliveryAttemptCounts = sqliteTable(
  "delivery_attempt_counts",
  {
    facility: text("facility").notNull(),
    /** Start of the period, ms since the epoch. */
    periodStart: integer("period_start").notNull(),
    succeeded: integer("succeeded").notNull().default(0),
    failed: integer("failed").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.facility, t.periodStart] })],
);
