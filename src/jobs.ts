import { cron } from "@elysiajs/cron";
import { Elysia } from "elysia";
import { pruneUploads } from "./csv/pending-uploads";
import { pruneExpiredSessions } from "./domain/sessions";
import { prunePageState } from "./http/admin/page-state";
import { periodStart, type ScheduleClaims } from "./cluster/schedules";
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
        const pageState = await prunePageState(ctx.db);
        const uploads = await pruneUploads(ctx.db);
        if (sessions || loginAttempts || pageState || uploads)
          ctx.log.info("housekeeping", {
            pruned_sessions: sessions,
            pruned_login_counters: loginAttempts,
            pruned_page_state: pageState,
            pruned_csv_previews: uploads,
          });
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

type Timers = Record<string, { trigger(): Promise<void>; stop(): void; nextRun(after?: Date | null): Date | null }>;

/**
 * Runs schedules on timers (@elysiajs/cron), each period on one node of the cluster only: the one
 * whose claim goes in (cluster/schedules.ts). A failure is logged and never stops the schedule;
 * stop() ends the timers at shutdown.
 */
export function startSchedules(log: Logger, schedules: Schedule[], claims: ScheduleClaims) {
  const app = new Elysia();
  for (const s of schedules) {
    app.use(
      cron({
        name: s.name,
        pattern: s.pattern,
        run: async () => {
          await claims.runOnce(s, periodStart(jobs[s.name]!, Date.now()));
        },
        catch: (err: unknown) => log.error(`${s.name} schedule failed`, { error: String(err) }),
      }),
    );
  }
  const { cron: jobs = {} } = app.store as { cron?: Timers };
  return {
    /** Runs a schedule now (as its timer would). */
    trigger: (name: string) => jobs[name]!.trigger(),
    stop() {
      for (const job of Object.values(jobs)) job.stop();
    },
  };
}
