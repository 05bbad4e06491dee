import { cron } from "@elysiajs/cron";
import { Elysia } from "elysia";
import { pruneIdleSessions } from "./domain/sessions";
import { pruneSeenMessages } from "./ingest/segment";
import type { AppContext } from "./http/context";

/**
 * In-process schedules (@elysiajs/cron). Each job catches its own errors so one failure never
 * stops the schedule; stop() ends them all at shutdown.
 */
export function startSchedules(ctx: AppContext) {
  const housekeeping = () => {
    const sessions = pruneIdleSessions(ctx.db, ctx.config.sessionIdleMinutes * 60_000);
    const messageIds = pruneSeenMessages(ctx.db);
    if (sessions || messageIds) ctx.log.info("housekeeping", { pruned_sessions: sessions, pruned_message_ids: messageIds });
  };
  const app = new Elysia().use(
    cron({
      name: "housekeeping",
      pattern: "0 */15 * * * *",
      run: housekeeping,
      catch: (err: unknown) => ctx.log.error("housekeeping failed", { error: String(err) }),
    }),
  );
  return {
    stop() {
      for (const job of Object.values(app.store.cron)) job.stop();
    },
  };
}
