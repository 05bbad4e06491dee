import type { Database, Statement } from "bun:sqlite";
import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { ACTIVE_JOB, deliveryDestinations } from "./schema";
import type { DestinationOptions } from "./types";

export type Destination = typeof deliveryDestinations.$inferSelect;
export type EligibleDestination = { key: string; concurrency: number | null };

/**
 * Destination options and health: last success, failing since, consecutive failures, disabled
 * and paused states. Writes run inside the transaction that completes the job that caused them.
 */
export class DestinationStore {
  private s: Record<string, Statement>;

  constructor(sqlite: Database) {
    const q = (sql: string) => sqlite.prepare(sql);
    this.s = {
      eligible: q(
        `SELECT key, concurrency FROM delivery_destinations
         WHERE disabled_at IS NULL AND (paused_at IS NULL OR (paused_until IS NOT NULL AND paused_until <= ?))`,
      ),
      nextPauseEnd: q(
        "SELECT MIN(paused_until) AS at FROM delivery_destinations WHERE disabled_at IS NULL AND paused_until > ?",
      ),
      success: q(
        `UPDATE delivery_destinations SET last_success_at = ?, failing_since = NULL, consecutive_failures = 0
         WHERE key = ?`,
      ),
      failure: q(
        `UPDATE delivery_destinations SET last_failure_at = ?1, last_error = ?2,
           failing_since = COALESCE(failing_since, ?1), consecutive_failures = consecutive_failures + 1
         WHERE key = ?3 RETURNING failing_since AS failingSince, disabled_at AS disabledAt`,
      ),
      disable: q(
        "UPDATE delivery_destinations SET disabled_at = ?, disabled_reason = ? WHERE key = ? AND disabled_at IS NULL",
      ),
      pause: q("UPDATE delivery_destinations SET paused_at = ?, paused_until = ?, pause_reason = ? WHERE key = ?"),
      enable: q(
        `UPDATE delivery_destinations SET disabled_at = NULL, disabled_reason = NULL,
           paused_at = NULL, paused_until = NULL, pause_reason = NULL, failing_since = NULL, consecutive_failures = 0
         WHERE key = ?`,
      ),
      // Jobs held back (and backed off) while the destination was off go at once when it is back.
      releaseJobs: q("UPDATE delivery_jobs SET run_at = ? WHERE destination = ? AND status = 'pending' AND run_at > ?"),
      configure: q(
        `INSERT INTO delivery_destinations (key, concurrency, strict_order) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET concurrency = ?2, strict_order = ?3`,
      ),
    };
  }

  eligible(now: number): EligibleDestination[] {
    return this.s.eligible!.all(now) as EligibleDestination[];
  }

  nextPauseEnd(now: number): number | null {
    return (this.s.nextPauseEnd!.get(now) as { at: number | null }).at;
  }

  recordSuccess(key: string, now: number): void {
    this.s.success!.run(now, key);
  }

  /** Counts a failure; disables the destination once it has failed without a success for `autoDisableAfterMs`. */
  recordFailure(key: string, error: string, now: number, autoDisableAfterMs: number): { disabled: boolean } {
    const row = this.s.failure!.get(now, error, key) as { failingSince: number; disabledAt: number | null } | null;
    if (row && row.disabledAt === null && now - row.failingSince >= autoDisableAfterMs) {
      const days = Math.round(((now - row.failingSince) / 86_400_000) * 10) / 10;
      this.disable(key, `failing without a success for ${days} days (${error})`, now);
      return { disabled: true };
    }
    return { disabled: false };
  }

  disable(key: string, reason: string, now: number): void {
    this.s.disable!.run(now, reason, key);
  }

  /** untilMs null: until enable() (e.g. until its credentials change). */
  pause(key: string, untilMs: number | null, reason: string, now: number): void {
    this.s.pause!.run(now, untilMs, reason, key);
  }

  enable(key: string, now: number): void {
    this.s.enable!.run(key);
    this.s.releaseJobs!.run(now, key, now);
  }

  configure(key: string, options: DestinationOptions): void {
    this.s.configure!.run(key, options.concurrency ?? null, options.strictOrder ? 1 : 0);
  }
}

export function getDestination(db: Db, key: string): Destination | undefined {
  return db.select().from(deliveryDestinations).where(eq(deliveryDestinations.key, key)).get();
}

export function listDestinations(db: Db): Destination[] {
  return db.select().from(deliveryDestinations).orderBy(asc(deliveryDestinations.key)).all();
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
export function destinationHealth(db: Db, key: string): DestinationHealth {
  const sqlite = db.$client;
  const recent = sqlite
    .query<{ succeeded: number; finished: number }, [string]>(
      `SELECT COALESCE(SUM(status = 'succeeded'), 0) AS succeeded, COUNT(*) AS finished
       FROM (SELECT status FROM delivery_jobs WHERE destination = ? AND status IN ('succeeded', 'failed')
             ORDER BY id DESC LIMIT 100)`,
    )
    .get(key)!;
  const last = sqlite
    .query<{ status: number | null; error: string | null; at: number }, [string]>(
      `SELECT response_status AS status, error, created_at AS at FROM http_log
       WHERE destination = ? ORDER BY id DESC LIMIT 1`,
    )
    .get(key);
  const active = sqlite
    .query<{ n: number }, [string]>(`SELECT COUNT(*) AS n FROM delivery_jobs WHERE destination = ? AND ${ACTIVE_JOB}`)
    .get(key)!;
  return {
    destination: getDestination(db, key) ?? null,
    activeJobs: active.n,
    recent,
    lastAttempt: last ? { status: last.status, error: last.error, at: new Date(last.at) } : null,
  };
}
