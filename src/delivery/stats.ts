import { statement, type DbOrTx, type Tx } from "../db/client";
import type { Outcome } from "./types";

/** The period attempts are counted in (see deliveryAttemptCounts). */
export const PERIOD_MS = 5 * 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Counts are kept this long (two days: "the last day" always has its whole day). */
const KEEP_COUNTS_MS = 2 * DAY;

/**
 * Whether an attempt counts as a success or a failure of its facility: a send that was answered as
 * wanted, or one that failed (a retry that counts, a final failure, a disabling answer). A pause or
 * a "later" is neither, nor a job that had nothing to send.
 */
export function attemptVerdict(outcome: Outcome, sent: boolean): "succeeded" | "failed" | null {
  switch (outcome.kind) {
    case "success":
      return sent ? "succeeded" : null;
    case "retry":
      return outcome.countsAsFailure === false ? null : "failed";
    case "fail":
    case "disable":
      return "failed";
    case "pause":
      return null;
  }
}

/** The SQL of these figures (one text, or SQLite's and PostgreSQL's twin). */
const q = {
  count: statement({
    sqlite: `INSERT INTO delivery_attempt_counts (facility, period_start, succeeded, failed) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (facility, period_start) DO UPDATE SET succeeded = succeeded + ?3, failed = failed + ?4`,
    postgres: `INSERT INTO delivery_attempt_counts AS c (facility, period_start, succeeded, failed)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (facility, period_start) DO UPDATE SET succeeded = c.succeeded + $3, failed = c.failed + $4`,
  }),
  prune: statement("DELETE FROM delivery_attempt_counts WHERE period_start < ?"),
  periods: statement<{ at: number; succeeded: number; failed: number }>(
    `SELECT period_start AS at, succeeded, failed FROM delivery_attempt_counts
     WHERE facility = ? AND period_start > ? ORDER BY period_start`,
  ),
  depth: statement<{ n: number }>("SELECT COUNT(*) AS n FROM delivery_jobs WHERE status IN ('pending', 'running')"),
  oldestDue: statement<{ at: number | null }>({
    sqlite: `SELECT MIN((SELECT run_at FROM delivery_jobs j
                 WHERE j.destination = d.key AND j.status = 'pending' AND j.blocked = 0
                 ORDER BY j.run_at LIMIT 1)) AS at
     FROM delivery_destinations d
     WHERE d.disabled_at IS NULL AND (d.paused_at IS NULL OR (d.paused_until IS NOT NULL AND d.paused_until <= ?))`,
    postgres: `SELECT MIN((SELECT run_at FROM delivery_jobs j
                 WHERE j.destination = d.key AND j.status = 'pending' AND NOT j.blocked
                 ORDER BY j.run_at LIMIT 1)) AS at
     FROM delivery_destinations d
     WHERE d.disabled_at IS NULL AND (d.paused_at IS NULL OR (d.paused_until IS NOT NULL AND d.paused_until <= $1))`,
  }),
  troubled: statement<TroubledDestination>({
    sqlite: `SELECT key, state, since, reason, consecutive_failures AS consecutiveFailures,
       (SELECT COUNT(*) FROM delivery_jobs j WHERE j.destination = d.key AND j.status IN ('pending', 'running'))
         AS activeJobs
     FROM (SELECT key, consecutive_failures,
             CASE WHEN disabled_at IS NOT NULL THEN 'disabled' WHEN paused THEN 'paused' ELSE 'failing' END AS state,
             CASE WHEN disabled_at IS NOT NULL THEN disabled_at WHEN paused THEN paused_at ELSE failing_since END
               AS since,
             CASE WHEN disabled_at IS NOT NULL THEN disabled_reason WHEN paused THEN pause_reason ELSE last_error END
               AS reason
           FROM (SELECT *, paused_at IS NOT NULL AND (paused_until IS NULL OR paused_until > ?1) AS paused
                 FROM delivery_destinations)
           WHERE disabled_at IS NOT NULL OR paused OR failing_since IS NOT NULL) d
     ORDER BY CASE state WHEN 'disabled' THEN 0 WHEN 'paused' THEN 1 ELSE 2 END, since, key
     LIMIT ?2`,
    postgres: `SELECT key, state, since, reason, consecutive_failures AS "consecutiveFailures",
       (SELECT COUNT(*) FROM delivery_jobs j WHERE j.destination = d.key AND j.status IN ('pending', 'running'))
         AS "activeJobs"
     FROM (SELECT key, consecutive_failures,
             CASE WHEN disabled_at IS NOT NULL THEN 'disabled' WHEN paused THEN 'paused' ELSE 'failing' END AS state,
             CASE WHEN disabled_at IS NOT NULL THEN disabled_at WHEN paused THEN paused_at ELSE failing_since END
               AS since,
             CASE WHEN disabled_at IS NOT NULL THEN disabled_reason WHEN paused THEN pause_reason ELSE last_error END
               AS reason
           FROM (SELECT *, paused_at IS NOT NULL AND (paused_until IS NULL OR paused_until > $1) AS paused
                 FROM delivery_destinations) AS marked
           WHERE disabled_at IS NOT NULL OR paused OR failing_since IS NOT NULL) d
     ORDER BY CASE state WHEN 'disabled' THEN 0 WHEN 'paused' THEN 1 ELSE 2 END, since, key
     LIMIT $2`,
  }),
};

/**
 * A tick's attempts counted per facility and period, then written inside the transaction recording
 * them: one primary-key upsert per facility and period, however many attempts.
 */
export class AttemptTally {
  private readonly counts = new Map<string, { facility: string; period: number; succeeded: number; failed: number }>();

  add(facility: string, verdict: "succeeded" | "failed" | null, at: number): void {
    if (!verdict) return;
    const period = at - (at % PERIOD_MS);
    const key = `${period}:${facility}`;
    let c = this.counts.get(key);
    if (!c) this.counts.set(key, (c = { facility, period, succeeded: 0, failed: 0 }));
    c[verdict]++;
  }

  async write(tx: Tx): Promise<void> {
    for (const c of this.counts.values()) await q.count.run(tx, c.facility, c.period, c.succeeded, c.failed);
  }
}

export async function pruneAttemptCounts(tx: Tx, now: number): Promise<number> {
  return q.prune.run(tx, now - KEEP_COUNTS_MS);
}

export type Tally = { succeeded: number; failed: number };
export type FacilityStats = {
  facility: string;
  lastHour: Tally;
  lastDay: Tally;
  /** The last 24 hours, oldest first; the last bar is the hour ending now. */
  hourly: Tally[];
};

/**
 * A facility's attempts in the last hour and day, and per hour for a day's chart. Cost: one
 * primary-key range read of at most 289 rows (a day of 5-minute periods), whatever the traffic.
 */
export async function facilityStats(db: DbOrTx, facility: string, now: number): Promise<FacilityStats> {
  const dayStart = now - DAY;
  const rows = await q.periods.all(db, facility, dayStart - PERIOD_MS);
  const hourly = Array.from({ length: 24 }, () => ({ succeeded: 0, failed: 0 }));
  const lastHour = { succeeded: 0, failed: 0 };
  const lastDay = { succeeded: 0, failed: 0 };
  for (const r of rows) {
    // A period counts when it ends inside the window: figures are to the 5 minutes.
    const end = r.at + PERIOD_MS;
    if (end <= dayStart) continue;
    const bar = hourly[Math.min(23, Math.floor((end - dayStart - 1) / HOUR))]!;
    for (const t of [bar, lastDay, ...(end > now - HOUR ? [lastHour] : [])]) {
      t.succeeded += r.succeeded;
      t.failed += r.failed;
    }
  }
  return { facility, lastHour, lastDay, hourly };
}

export type QueueStats = {
  /** Jobs waiting or being sent, held ones (paused or disabled destinations) included. */
  depth: number;
  /** The oldest due job's run time among destinations that are sending, or null when none is due. */
  oldestDueAt: number | null;
};

/**
 * The queue's depth and its oldest due job. Costs: a count over the partial index of active jobs
 * (as big as the queue: a backlog of 100,000 jobs reads 100,000 index entries, a few milliseconds),
 * and one index seek per sending destination for its earliest due job.
 */
export async function queueStats(db: DbOrTx, now: number): Promise<QueueStats> {
  const depth = (await q.depth.get(db))!.n;
  const oldest = (await q.oldestDue.get(db, now))!.at;
  return { depth, oldestDueAt: oldest !== null && oldest <= now ? oldest : null };
}

export type TroubledDestination = {
  key: string;
  state: "disabled" | "paused" | "failing";
  since: number;
  reason: string | null;
  consecutiveFailures: number;
  /** Jobs waiting or being sent. */
  activeJobs: number;
};

/**
 * Destinations failing, paused or disabled now, worst first. Cost: a scan of the destinations table
 * (one row per webhook, CRM sync and Clearbit) and, for each one listed, a count over the partial
 * index of its active jobs.
 */
export async function troubledDestinations(db: DbOrTx, now: number, limit: number): Promise<TroubledDestination[]> {
  return q.troubled.all(db, now, limit);
}
