import { asc, eq } from "drizzle-orm";
import { statement, type DbOrTx, type Tx } from "../db/client";
import { ACTIVE_JOB, deliveryDestinations } from "./schema";
import type { DestinationOptions } from "./types";

export type Destination = typeof deliveryDestinations.$inferSelect;
export type EligibleDestination = { key: string; concurrency: number | null };

/** Destination statements, compiled once per connection (one text, or SQLite's and PostgreSQL's twin). */
const q = {
  // Every destination not disabled that is either not paused or paused until a time: the eligible ones
  // (unpaused, or their pause has ended) and the ones whose pause ends later.
  claimable: statement<{ key: string; concurrency: number | null; paused: number; paused_until: number | null }>(
    `SELECT key, concurrency, paused_at IS NOT NULL AS paused, paused_until FROM delivery_destinations
     WHERE disabled_at IS NULL AND (paused_at IS NULL OR paused_until IS NOT NULL)`,
  ),
  // A batch of destinations' last successes: [{ "key": ..., "at": ... }].
  successes: statement({
    sqlite: `UPDATE delivery_destinations SET last_success_at = v.value ->> 'at', failing_since = NULL,
       consecutive_failures = 0
     FROM json_each(?) AS v WHERE delivery_destinations.key = v.value ->> 'key'`,
    postgres: `UPDATE delivery_destinations SET last_success_at = (v ->> 'at')::bigint, failing_since = NULL,
       consecutive_failures = 0
     FROM json_array_elements($1::json) AS v WHERE delivery_destinations.key = v ->> 'key'`,
  }),
  failure: statement<{ failingSince: number; disabledAt: number | null }>({
    sqlite: `UPDATE delivery_destinations SET last_failure_at = ?1, last_error = ?2,
       failing_since = COALESCE(failing_since, ?1), consecutive_failures = consecutive_failures + 1
     WHERE key = ?3 RETURNING failing_since AS failingSince, disabled_at AS disabledAt`,
    postgres: `UPDATE delivery_destinations SET last_failure_at = $1, last_error = $2,
       failing_since = COALESCE(failing_since, $1), consecutive_failures = consecutive_failures + 1
     WHERE key = $3 RETURNING failing_since AS "failingSince", disabled_at AS "disabledAt"`,
  }),
  disable: statement(
    "UPDATE delivery_destinations SET disabled_at = ?, disabled_reason = ? WHERE key = ? AND disabled_at IS NULL",
  ),
  pause: statement("UPDATE delivery_destinations SET paused_at = ?, paused_until = ?, pause_reason = ? WHERE key = ?"),
  enable: statement(
    `UPDATE delivery_destinations SET disabled_at = NULL, disabled_reason = NULL,
       paused_at = NULL, paused_until = NULL, pause_reason = NULL, failing_since = NULL, consecutive_failures = 0
     WHERE key = ?`,
  ),
  // Jobs held back (and backed off) while the destination was off go at once when it is back.
  releaseJobs: statement(
    "UPDATE delivery_jobs SET run_at = ? WHERE destination = ? AND status = 'pending' AND run_at > ?",
  ),
  configure: statement(
    `INSERT INTO delivery_destinations (key, concurrency, strict_order) VALUES (?1, ?2, ?3)
     ON CONFLICT(key) DO UPDATE SET concurrency = ?2, strict_order = ?3`,
  ),
  recentJobs: statement<{ succeeded: number; finished: number }>({
    sqlite: `SELECT COALESCE(SUM(status = 'succeeded'), 0) AS succeeded, COUNT(*) AS finished
     FROM (SELECT status FROM delivery_jobs WHERE destination = ? AND status IN ('succeeded', 'failed')
           ORDER BY id DESC LIMIT 100)`,
    postgres: `SELECT COUNT(*) FILTER (WHERE status = 'succeeded') AS succeeded, COUNT(*) AS finished
     FROM (SELECT status FROM delivery_jobs WHERE destination = $1 AND status IN ('succeeded', 'failed')
           ORDER BY id DESC LIMIT 100) AS recent`,
  }),
  lastAttempt: statement<{ status: number | null; error: string | null; at: number }>(
    `SELECT response_status AS status, error, created_at AS at FROM http_log
     WHERE destination = ? ORDER BY id DESC LIMIT 1`,
  ),
  activeJobs: statement<{ n: number }>(
    `SELECT COUNT(*) AS n FROM delivery_jobs WHERE destination = ? AND ${ACTIVE_JOB}`,
  ),
};

/**
 * Destination options and health: last success, failing since, consecutive failures, disabled
 * and paused states. Writes run inside the transaction that completes the job that caused them.
 */
export class DestinationStore {
  /**
   * The destinations a claim may serve now (not disabled, not paused or their pause has ended), and
   * when the next pause ends (null without any): one statement, as a tick asks both.
   */
  async claimable(db: DbOrTx, now: number): Promise<{ eligible: EligibleDestination[]; nextPauseEnd: number | null }> {
    const eligible: EligibleDestination[] = [];
    let nextPauseEnd: number | null = null;
    for (const d of await q.claimable.all(db)) {
      if (!d.paused || d.paused_until! <= now) eligible.push({ key: d.key, concurrency: d.concurrency });
      if (d.paused_until !== null && d.paused_until > now && (nextPauseEnd === null || d.paused_until < nextPauseEnd))
        nextPauseEnd = d.paused_until;
    }
    return { eligible, nextPauseEnd };
  }

  /** Each destination's last success (healthy again) in one statement. */
  async recordSuccesses(tx: Tx, lastSuccessAt: ReadonlyMap<string, number>): Promise<void> {
    if (!lastSuccessAt.size) return;
    await q.successes.run(tx, JSON.stringify([...lastSuccessAt].map(([key, at]) => ({ key, at }))));
  }

  /** Counts a failure; disables the destination once it has failed without a success for `autoDisableAfterMs`. */
  async recordFailure(
    tx: Tx,
    key: string,
    error: string,
    now: number,
    autoDisableAfterMs: number,
  ): Promise<{ disabled: boolean }> {
    const row = await q.failure.get(tx, now, error, key);
    if (row && row.disabledAt === null && now - row.failingSince >= autoDisableAfterMs) {
      const days = Math.round(((now - row.failingSince) / 86_400_000) * 10) / 10;
      await this.disable(tx, key, `failing without a success for ${days} days (${error})`, now);
      return { disabled: true };
    }
    return { disabled: false };
  }

  async disable(tx: Tx, key: string, reason: string, now: number): Promise<void> {
    await q.disable.run(tx, now, reason, key);
  }

  /** untilMs null: until enable() (e.g. until its credentials change). */
  async pause(tx: Tx, key: string, untilMs: number | null, reason: string, now: number): Promise<void> {
    await q.pause.run(tx, now, untilMs, reason, key);
  }

  async enable(tx: Tx, key: string, now: number): Promise<void> {
    await q.enable.run(tx, key);
    await q.releaseJobs.run(tx, now, key, now);
  }

  async configure(tx: Tx, key: string, options: DestinationOptions): Promise<void> {
    await q.configure.run(tx, key, options.concurrency ?? null, options.strictOrder ? 1 : 0);
  }
}

export async function getDestination(db: DbOrTx, key: string): Promise<Destination | undefined> {
  const [row] = await db.select().from(deliveryDestinations).where(eq(deliveryDestinations.key, key)).limit(1);
  return row;
}

export function listDestinations(db: DbOrTx): Promise<Destination[]> {
  return db.select().from(deliveryDestinations).orderBy(asc(deliveryDestinations.key));
}

/** How a destination is doing: its state and counters, its queue, its recent results and last answer. */
export type DestinationHealth = {
  /** Null until its first job (the row is created then). */
  destination: Destination | null;
  /** Jobs still to send or on the wire. */
  activeJobs: number;
  /** The last 100 finished (succeeded or failed) jobs. */
  recent: { finished: number; succeeded: number };
  lastAttempt: { status: number | null; error: string | null; at: Date } | null;
};

/** The one health query every feature's status (webhook list, CRM sync state, Clearbit status) reads. */
export async function destinationHealth(db: DbOrTx, key: string): Promise<DestinationHealth> {
  const recent = (await q.recentJobs.get(db, key))!;
  const last = await q.lastAttempt.get(db, key);
  const active = (await q.activeJobs.get(db, key))!;
  return {
    destination: (await getDestination(db, key)) ?? null,
    activeJobs: active.n,
    recent,
    lastAttempt: last ? { status: last.status, error: last.error, at: new Date(last.at) } : null,
  };
}
