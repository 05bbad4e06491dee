import { cron } from "@elysiajs/cron";
import { Elysia } from "elysia";
import { pruneExpiredSessions } from "./domain/sessions";
import { pruneSeenMessages } from "./ingest/segment";
import { audiencesOf, clearbitOf } from "./enrichment";
import type { AppContext } from "./http/context";
import { webhooksOf } from "./webhooks";

/**
 * In-process schedules (@elysiajs/cron). Each job catches its own errors so one failure never
 * stops the schedule; stop() ends them all at shutdown.
 */
export function startSchedules(ctx: AppContext) {
  const housekeeping = () => {
    const sessions = pruneExpiredSessions(ctx.db, ctx.config.sessionLimits);
    const messageIds = pruneSeenMessages(ctx.db);
    const loginAttempts = ctx.loginThrottle.prune();
    if (sessions || messageIds || loginAttempts) ctx.log.info("housekeeping", { pruned_sessions: sessions, pruned_message_ids: messageIds, pruned_login_counters: loginAttempts });
  };
  const deliveryPruning = () => {
    const { logEntries, jobs } = ctx.delivery.prune();
    const payloads = webhooksOf(ctx)?.prunePayloads() ?? 0;
    if (logEntries || jobs || payloads) ctx.log.info("pruned delivery history", { http_log_entries: logEntries, finished_jobs: jobs, webhook_payloads: payloads });
  };
  // Hourly: a Clearbit backfill when one is due (default every 24 h), and audiences whose time-based conditions drift.
  const enrichment = async () => {
    const run = await clearbitOf(ctx).scheduledBackfill();
    if (run) ctx.log.info("clearbit backfill planned", { lookups: run.planned });
    const flips = audiencesOf(ctx).refreshAll();
    if (flips) ctx.log.info("audience memberships changed", { flips });
  };
  const app = new Elysia()
    .use(
      cron({
        name: "enrichment",
        pattern: "0 20 * * * *",
        run: enrichment,
        catch: (err: unknown) => ctx.log.error("enrichment schedule failed", { error: String(err) }),
      }),
    )
    .use(
      cron({
        name: "housekeeping",
        pattern: "0 */15 * * * *",
        run: housekeeping,
        catch: (err: unknown) => ctx.log.error("housekeeping failed", { error: String(err) }),
      }),
    )
    .use(
      cron({
        name: "delivery-pruning",
        pattern: "0 7 * * * *",
        run: deliveryPruning,
        catch: (err: unknown) => ctx.log.error("delivery pruning failed", { error: String(err) }),
      }),
    );
  return {
    app,
    stop() {
      for (const job of Object.values(app.store.cron)) job.stop();
      // Runs before the delivery engine drains: jobs waiting for a rate-limit slot give up at once.
      clearbitOf(ctx).limiter.close();
    },
  };
}
