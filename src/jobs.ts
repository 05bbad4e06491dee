import { cron } from "@elysiajs/cron";
import { Elysia } from "elysia";
import { pruneExpiredSessions } from "./domain/sessions";
import type { Schedule } from "./feature";
import type { AppContext } from "./http/context";
import type { Logger } from "./log";

/** The appliance's own housekeeping; features bring their own schedules (feature.ts). */
export function coreSchedules(ctx: AppContext): Schedule[] {
  return [
    {
      name: "housekeeping",
      pattern: "0 */15 * * * *",
      run: async () => {
        const sessions = await pruneExpiredSessions(ctx.db, ctx.config.sessionLimits);
        const loginAttempts = await ctx.loginThrottle.prune();
        if (sessions || loginAttempts)
          ctx.log.info("housekeeping", { pruned_sessions: sessions, pruned_login_counters: loginAttempts });
      },
    },
    {
      name: "delivery-pruning",
      pattern: "0 7 * * * *",
      run: async () => {
        const { logEntries, jobs } = await ctx.delivery.prune();
        if (logEntries || jobs)
          ctx.log.info("pruned delivery history", { http_log_entries: logEntries, finished_jobs: jobs });
      },
    },
  ];
}

/**
 * Runs schedules in-process (@elysiajs/cron). Each catches its own errors so one failure never
 * stops the schedule; stop() ends them all at shutdown.
 */
export function startSchedules(log: Logger, schedules: Schedule[]) {
  const app = new Elysia();
  for (const s of schedules) {
    app.use(
      cron({
        name: s.name,
        pattern: s.pattern,
        run: s.run,
        catch: (err: unknown) => log.error(`${s.name} schedule failed`, { error: String(err) }),
      }),
    );
  }
  const { cron: jobs = {} } = app.store as { cron?: Record<string, { trigger(): Promise<void>; stop(): void }> };
  return {
    /** Runs a schedule now (as its timer would). */
    trigger: (name: string) => jobs[name]!.trigger(),
    stop() {
      for (const job of Object.values(jobs)) job.stop();
    },
  };
}
