import { and, desc, eq, gte, isNotNull, isNull, lt, not, or, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { dialectOf, statement, type Db, type DbOrTx, type StatementParam, type Tx } from "../db/client";
import { Redactor } from "./redaction";
import { deliveryJobs, httpLog, type JobStatus } from "./schema";
import type { HttpResult } from "./types";

/** Bodies and header sets are cut here before storing: the log is for diagnosis, not archiving. */
export const LOG_BODY_CAP = 16 * 1024;
const TRUNCATED_MARK = "…[truncated]";

export type HttpAttempt = {
  facility: string;
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  requestBody?: string | null;
  result: HttpResult;
  attempt?: number | null;
  deliveryId?: string | null;
  jobId?: number | null;
  destination?: string | null;
  /** Values to redact wherever they appear (URL, headers, bodies). */
  secrets?: readonly string[];
  at?: Date;
};

export type HttpLogEntry = typeof httpLog.$inferSelect;

function cap(text: string | null, truncated = false): string | null {
  if (text == null) return null;
  return text.length > LOG_BODY_CAP || truncated ? text.slice(0, LOG_BODY_CAP) + TRUNCATED_MARK : text;
}

/** Records one attempt, redacted and truncated; usually inside the transaction completing the job. */
export async function recordHttpAttempt(tx: Tx, attempt: HttpAttempt): Promise<number> {
  return (await insertRows(1).get(tx, ...logRow(attempt)))!.id;
}

/**
 * Records a batch of attempts (a delivery tick's) as recordHttpAttempt does each, in multi-row
 * inserts: on PostgreSQL every statement is a round trip, and the tick's transaction waits for each.
 */
export async function recordHttpAttempts(tx: Tx, attempts: readonly HttpAttempt[]): Promise<void> {
  for (let i = 0; i < attempts.length; i += ROWS_PER_INSERT) {
    const chunk = attempts.slice(i, i + ROWS_PER_INSERT);
    await insertRows(chunk.length).run(tx, ...chunk.flatMap(logRow));
  }
}

/**
 * Redactors by their secrets: building one (every form of every secret) cost more than using it, and
 * a destination's attempts share their secrets. Emptied when full (a secret changed leaves an unused one).
 */
const redactors = new Map<string, Redactor>();
const MAX_REDACTORS = 256;

function redactorFor(secrets: readonly string[]): Redactor {
  const key = secrets.join("\0");
  let redactor = redactors.get(key);
  if (!redactor) {
    if (redactors.size >= MAX_REDACTORS) redactors.clear();
    redactors.set(key, (redactor = new Redactor(secrets)));
  }
  return redactor;
}

/** The row's values in the order of INSERT_COLUMNS. */
function logRow(attempt: HttpAttempt): StatementParam[] {
  const redact = redactorFor(attempt.secrets ?? []);
  const { result } = attempt;
  const url = redact.url(attempt.url);
  const requestHeaders = JSON.stringify(redact.headers(attempt.requestHeaders));
  const requestBody = cap(redact.text(attempt.requestBody));
  const responseHeaders = result.status === undefined ? null : JSON.stringify(redact.headers(result.headers));
  const responseBody = result.status === undefined ? null : cap(redact.text(result.body), result.bodyTruncated);
  const error = redact.text(result.error ? `${result.error.kind}: ${result.error.message}` : null);
  const sizeBytes =
    url.length +
    requestHeaders.length +
    (requestBody?.length ?? 0) +
    (responseHeaders?.length ?? 2) +
    (responseBody?.length ?? 0) +
    (error?.length ?? 0) +
    200;
  return [
    (attempt.at ?? new Date()).getTime(),
    attempt.facility,
    "outbound",
    attempt.method,
    url,
    requestHeaders,
    requestBody,
    result.status ?? null,
    responseHeaders,
    responseBody,
    result.durationMs,
    error,
    attempt.attempt ?? null,
    attempt.deliveryId ?? null,
    attempt.jobId ?? null,
    attempt.destination ?? null,
    sizeBytes,
  ];
}

const INSERT_COLUMNS = `created_at, facility, direction, method, url, request_headers, request_body, response_status,
  response_headers, response_body, duration_ms, error, attempt, delivery_id, job_id, destination, size_bytes`;
/** Bounds the statement variants (one per row count, each compiled once per connection) and their parameters. */
const ROWS_PER_INSERT = 64;
const inserts = new Map<number, ReturnType<typeof statement<{ id: number }>>>();

/** Plain SQL (cached per row count): drizzle's insert builder cost more than the insert. */
function insertRows(n: number) {
  let st = inserts.get(n);
  if (!st) {
    const row = `(${Array(17).fill("?").join(", ")})`;
    st = statement<{ id: number }>(
      `INSERT INTO http_log (${INSERT_COLUMNS}) VALUES ${Array(n).fill(row).join(", ")} RETURNING id`,
    );
    inserts.set(n, st);
  }
  return st;
}

const httpLogFilterSchema = z.object({
  facility: z.string().optional(),
  destination: z.string().optional(),
  jobId: z.coerce.number().int().optional(),
  deliveryId: z.string().optional(),
  /** true: only attempts with a transport error or a non-2xx status. */
  failedOnly: z.union([z.boolean(), z.stringbool()]).optional(),
  /** Keyset pagination: entries with a smaller id (older). */
  beforeId: z.coerce.number().int().optional(),
  limit: z.coerce.number().int().min(1).max(501).default(50), // a page of 500 and one to see whether more follow
});
export type HttpLogFilter = z.input<typeof httpLogFilterSchema>;

/** Newest first. */
export async function listHttpLog(db: Db, filter: HttpLogFilter = {}): Promise<HttpLogEntry[]> {
  const f = httpLogFilterSchema.parse(filter);
  const where: SQL[] = [];
  if (f.facility) where.push(eq(httpLog.facility, f.facility));
  if (f.destination) where.push(eq(httpLog.destination, f.destination));
  if (f.jobId !== undefined) where.push(eq(httpLog.jobId, f.jobId));
  if (f.deliveryId) where.push(eq(httpLog.deliveryId, f.deliveryId));
  if (f.beforeId !== undefined) where.push(lt(httpLog.id, f.beforeId));
  if (f.failedOnly)
    where.push(
      or(
        isNotNull(httpLog.error),
        isNull(httpLog.responseStatus),
        lt(httpLog.responseStatus, 200),
        gte(httpLog.responseStatus, 300),
      )!,
    );
  return await db
    .select()
    .from(httpLog)
    .where(and(...where))
    .orderBy(desc(httpLog.id))
    .limit(f.limit);
}

/** What a feature filters its attempts by: its destination, and optionally the job they belong to. */
export type AttemptFilter = {
  destination: string;
  orderingKey?: string;
  /** A top-level field of the job's payload and the value it must hold. */
  payloadField?: { name: string; value: string };
  /** ok: 2xx answers; failed: transport errors and other statuses. */
  outcome?: "ok" | "failed";
  /** Keyset: only attempts before this (time in ms, id), newest first. */
  before?: { at: number; id: number };
  limit: number;
};
/** An attempt with the job it belongs to (null once the job is pruned). */
export type AttemptWithJob = {
  entry: HttpLogEntry;
  job: { status: JobStatus; orderingKey: string | null; payload: unknown } | null;
};

/** A destination's attempts with their jobs, newest first (e.g. a CRM sync's log). */
export async function listAttemptsWithJobs(db: Db, f: AttemptFilter): Promise<AttemptWithJob[]> {
  const failed = or(
    isNotNull(httpLog.error),
    isNull(httpLog.responseStatus),
    lt(httpLog.responseStatus, 200),
    gte(httpLog.responseStatus, 300),
  )!;
  const where: SQL[] = [eq(httpLog.destination, f.destination)];
  if (f.orderingKey !== undefined) where.push(eq(deliveryJobs.orderingKey, f.orderingKey));
  if (f.payloadField)
    where.push(sql`${dialectOf(db).jsonText(deliveryJobs.payload, f.payloadField.name)} = ${f.payloadField.value}`);
  if (f.outcome === "failed") where.push(failed);
  if (f.outcome === "ok") where.push(not(failed));
  if (f.before) where.push(sql`(${httpLog.createdAt}, ${httpLog.id}) < (${f.before.at}, ${f.before.id})`);
  const rows = await db
    .select({
      entry: httpLog,
      status: deliveryJobs.status,
      orderingKey: deliveryJobs.orderingKey,
      payload: deliveryJobs.payload,
    })
    .from(httpLog)
    .leftJoin(deliveryJobs, eq(deliveryJobs.id, httpLog.jobId))
    .where(and(...where))
    .orderBy(desc(httpLog.createdAt), desc(httpLog.id))
    .limit(f.limit);
  return rows.map(({ entry, status, orderingKey, payload }) => ({
    entry,
    job: status === null ? null : { status, orderingKey, payload },
  }));
}

export type AttemptBucket = { start: Date; succeeded: number; failed: number };

/**
 * A destination's attempts per time bucket (`bucketMs` wide, aligned to the epoch) since a time,
 * oldest first, empty buckets included: a 2xx answer is a success, anything else (or none) a failure.
 */
export async function attemptsOverTime(
  db: DbOrTx,
  destination: string,
  since: Date,
  bucketMs: number,
  now = Date.now(),
): Promise<AttemptBucket[]> {
  const first = Math.floor(since.getTime() / bucketMs);
  const rows = await chartQueries.buckets.all(
    db,
    bucketMs,
    destination,
    await firstIdSince(db, first * bucketMs),
    first * bucketMs,
  );
  const byBucket = new Map(rows.map((r) => [r.bucket, r]));
  const buckets: AttemptBucket[] = [];
  for (let b = first; b <= Math.floor(now / bucketMs); b++) {
    const r = byBucket.get(b);
    const succeeded = r?.succeeded ?? 0;
    buckets.push({ start: new Date(b * bucketMs), succeeded, failed: (r?.n ?? 0) - succeeded });
  }
  return buckets;
}

/** The SQL of the chart's queries (one text, or SQLite's and PostgreSQL's twin). */
const chartQueries = {
  buckets: statement<{ bucket: number; succeeded: number; n: number }>({
    sqlite: `SELECT created_at / ?1 AS bucket, SUM(error IS NULL AND response_status BETWEEN 200 AND 299) AS succeeded,
       COUNT(*) AS n
     FROM http_log WHERE destination = ?2 AND id >= ?3 AND created_at >= ?4 GROUP BY bucket`,
    postgres: `SELECT created_at / $1::int8 AS bucket,
       COUNT(*) FILTER (WHERE error IS NULL AND response_status BETWEEN 200 AND 299) AS succeeded, COUNT(*) AS n
     FROM http_log WHERE destination = $2 AND id >= $3 AND created_at >= $4 GROUP BY bucket`,
  }),
  entryFrom: statement<{ id: number; at: number }>(
    "SELECT id, created_at AS at FROM http_log WHERE id >= ? ORDER BY id LIMIT 1",
  ),
  nextId: statement<{ id: number }>("SELECT COALESCE(MAX(id), 0) + 1 AS id FROM http_log"),
};

/**
 * The first entry recorded at or after a time, found by bisecting the ids (entries are written in
 * time order): a day's chart then reads one day of a destination's entries, not its whole history.
 */
async function firstIdSince(db: DbOrTx, at: number): Promise<number> {
  let lo = 0;
  let hi = (await chartQueries.nextId.get(db))!.id;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const row = await chartQueries.entryFrom.get(db, mid);
    if (!row || row.at >= at) hi = mid;
    else lo = row.id + 1;
  }
  return lo;
}

export async function getHttpLogEntry(db: Db, id: number): Promise<HttpLogEntry | undefined> {
  return (await db.select().from(httpLog).where(eq(httpLog.id, id)).limit(1))[0];
}

/**
 * The one JSON shape of an HTTP-log entry in the API: the HTTP log, a webhook delivery's attempts,
 * a CRM sync's calls and the Clearbit log. `response` is null when no answer arrived (see `error`).
 */
export function httpLogEntryJson(e: HttpLogEntry) {
  return {
    id: e.id,
    at: e.createdAt.toISOString(),
    facility: e.facility,
    direction: e.direction,
    destination: e.destination,
    job_id: e.jobId,
    delivery_id: e.deliveryId,
    attempt: e.attempt,
    request: { method: e.method, url: e.url, headers: e.requestHeaders, body: e.requestBody },
    response:
      e.responseStatus === null ? null : { status: e.responseStatus, headers: e.responseHeaders, body: e.responseBody },
    error: e.error,
    duration_ms: e.durationMs,
  };
}
export type HttpLogEntryJson = ReturnType<typeof httpLogEntryJson>;

export type LogRetention = { maxAgeMs: number; maxBytes: number };
export const DEFAULT_LOG_RETENTION: LogRetention = { maxAgeMs: 30 * 86_400_000, maxBytes: 256 * 1024 * 1024 };

/** Deletes entries older than maxAge, then the oldest until the rest fit in maxBytes. */
export async function pruneHttpLog(
  db: Db,
  retention: LogRetention = DEFAULT_LOG_RETENTION,
  now: number = Date.now(),
): Promise<{ deleted: number }> {
  return await db.transaction(async (tx) => {
    // Entries are written in time order, so the old ones are those below the first recent id
    // (found by walking from the oldest; no index on created_at to keep up on every insert).
    const firstRecent = await prune.firstRecent.get(tx, now - retention.maxAgeMs);
    const byAge = await prune.below.run(tx, firstRecent?.id ?? Number.MAX_SAFE_INTEGER);
    // The newest entry whose running total (newest first) exceeds the budget: it and all older go.
    const cutoff = await prune.overBudget.get(tx, retention.maxBytes);
    const bySize = cutoff ? await prune.upTo.run(tx, cutoff.id) : 0;
    return { deleted: byAge + bySize };
  });
}

const prune = {
  firstRecent: statement<{ id: number }>("SELECT id FROM http_log WHERE created_at >= ? ORDER BY id LIMIT 1"),
  below: statement("DELETE FROM http_log WHERE id < ?"),
  overBudget: statement<{ id: number }>({
    sqlite: `SELECT id FROM (SELECT id, SUM(size_bytes) OVER (ORDER BY id DESC) AS total FROM http_log)
     WHERE total > ? ORDER BY id DESC LIMIT 1`,
    postgres: `SELECT id FROM (SELECT id, SUM(size_bytes) OVER (ORDER BY id DESC) AS total FROM http_log) AS running
     WHERE total > $1 ORDER BY id DESC LIMIT 1`,
  }),
  upTo: statement("DELETE FROM http_log WHERE id <= ?"),
};
