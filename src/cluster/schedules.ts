import { and, asc, eq, lt, max, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { scheduleRuns } from "../db/schema";
import type { Schedule } from "../feature";
import type { Logger } from "../log";

/**
 * Schedules run once per period in the cluster: every node's timer fires, each tries to insert the
 * (schedule, period start) row, and only the node whose insert went in runs it (insert … on conflict
 * do nothing: the same on SQLite and PostgreSQL). The runner holds a lease on its row and renews it
 * while running; a run whose lease ran out (its node died) is taken over by the next node whose
 * heartbeat sees it, and a failed run waits for the next period.
 */
const LEASE_MS = 60_000;
const KEEP_RUNS_MS = 7 * 24 * 3_600_000;
/** Timers fire a little early or late; a firing this close to a period's start belongs to it. */
const JITTER_MS = 5_000;

type Timer = { nextRun(after?: Date | null): Date | null };

/** The start of the period a timer firing at `now` is for (the latest firing time at or just after now). */
export function periodStart(timer: Timer, now: number): number {
  const after = (t: number) => timer.nextRun(new Date(t))?.getTime() ?? Number.POSITIVE_INFINITY;
  const first = after(now);
  const length = after(first) - first;
  const next = after(now + Math.min(JITTER_MS, length / 4));
  // The latest firing before `next`: step back until one is behind, then walk forward to the last.
  let from = next - length;
  for (let step = length; after(from - 1000) >= next; step *= 2) from -= step;
  let start = after(from - 1000);
  for (let t = after(start); t < next; t = after(t)) start = t;
  return start;
}

export type ScheduleRun = {
  schedule: string;
  periodStart: Date;
  nodeId: string;
  startedAt: Date;
  finishedAt: Date | null;
  outcome: "running" | "succeeded" | "failed";
  error: string | null;
  attempts: number;
};

/** This node's side of the schedule claims. */
export class ScheduleClaims {
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly db: Db,
    readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  /** The schedules this node is running now. */
  runningNames(): string[] {
    return [...this.running.keys()];
  }

  /** Runs the schedule for this period when this node's claim is the one that went in. */
  async runOnce(schedule: Schedule, period: number, now = Date.now()): Promise<boolean> {
    const won = await this.db.transaction(async (tx) => {
      await tx
        .delete(scheduleRuns)
        .where(
          and(eq(scheduleRuns.schedule, schedule.name), lt(scheduleRuns.periodStart, new Date(now - KEEP_RUNS_MS))),
        );
      return tx
        .insert(scheduleRuns)
        .values({
          schedule: schedule.name,
          periodStart: new Date(period),
          nodeId: this.nodeId,
          startedAt: new Date(now),
          leaseUntil: new Date(now + LEASE_MS),
          outcome: "running",
        })
        .onConflictDoNothing()
        .returning({ schedule: scheduleRuns.schedule });
    });
    if (!won.length) return false;
    await this.execute(schedule, period);
    return true;
  }

  /** Takes over the runs of these schedules whose node stopped renewing their lease. */
  async takeOver(schedules: Schedule[], now = Date.now()): Promise<void> {
    const known = new Map(schedules.map((s) => [s.name, s]));
    const expired = await this.db
      .select({ schedule: scheduleRuns.schedule, periodStart: scheduleRuns.periodStart, nodeId: scheduleRuns.nodeId })
      .from(scheduleRuns)
      .where(and(eq(scheduleRuns.outcome, "running"), lt(scheduleRuns.leaseUntil, new Date(now))));
    for (const run of expired) {
      const schedule = known.get(run.schedule);
      if (!schedule || this.running.has(schedule.name)) continue;
      const taken = await this.db.transaction(async (tx) =>
        tx
          .update(scheduleRuns)
          .set({
            nodeId: this.nodeId,
            startedAt: new Date(now),
            leaseUntil: new Date(now + LEASE_MS),
            attempts: sql`${scheduleRuns.attempts} + 1`,
          })
          .where(
            and(
              eq(scheduleRuns.schedule, run.schedule),
              eq(scheduleRuns.periodStart, run.periodStart),
              eq(scheduleRuns.outcome, "running"),
              lt(scheduleRuns.leaseUntil, new Date(now)),
            ),
          )
          .returning({ schedule: scheduleRuns.schedule }),
      );
      if (!taken.length) continue;
      this.log.warn("taking over a schedule run whose node stopped", {
        schedule: run.schedule,
        period_start: run.periodStart.toISOString(),
        from_node: run.nodeId,
      });
      // Not awaited: the heartbeat that found it goes on; the run is tracked in `running`.
      this.execute(schedule, run.periodStart.getTime()).catch(() => {});
    }
  }

  /** Waits for the runs in progress (at shutdown). */
  async drain(): Promise<void> {
    await Promise.all(this.running.values());
  }

  private execute(schedule: Schedule, period: number): Promise<void> {
    const run: Promise<void> = (async () => {
      const key = and(
        eq(scheduleRuns.schedule, schedule.name),
        eq(scheduleRuns.periodStart, new Date(period)),
        eq(scheduleRuns.nodeId, this.nodeId),
      );
      const renew = setInterval(() => {
        this.db
          .transaction(async (tx) => {
            await tx
              .update(scheduleRuns)
              .set({ leaseUntil: new Date(Date.now() + LEASE_MS) })
              .where(key);
          })
          .catch((err: unknown) => this.log.error("renewing a schedule lease failed", { error: String(err) }));
      }, LEASE_MS / 3);
      let error: string | null = null;
      try {
        await schedule.run();
      } catch (err) {
        error = (err instanceof Error ? err.message : String(err)).slice(0, 500);
        this.log.error(`${schedule.name} schedule failed`, { error });
      } finally {
        clearInterval(renew);
      }
      const at = new Date();
      await this.db.transaction(async (tx) => {
        await tx
          .update(scheduleRuns)
          .set({ outcome: error === null ? "succeeded" : "failed", error, finishedAt: at, leaseUntil: at })
          .where(key);
      });
    })().finally(() => {
      if (this.running.get(schedule.name) === run) this.running.delete(schedule.name);
    });
    this.running.set(schedule.name, run);
    return run;
  }
}

/** The latest run of every schedule the cluster has run, by name. */
export async function lastScheduleRuns(db: Db): Promise<ScheduleRun[]> {
  const latest = await db
    .select({ schedule: scheduleRuns.schedule, periodStart: max(scheduleRuns.periodStart) })
    .from(scheduleRuns)
    .groupBy(scheduleRuns.schedule)
    .orderBy(asc(scheduleRuns.schedule));
  const runs: ScheduleRun[] = [];
  for (const { schedule, periodStart } of latest) {
    if (!periodStart) continue;
    const [run] = await db
      .select()
      .from(scheduleRuns)
      .where(and(eq(scheduleRuns.schedule, schedule), eq(scheduleRuns.periodStart, periodStart)))
      .limit(1);
    if (run) runs.push(run);
  }
  return runs;
}
