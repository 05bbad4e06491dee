import { scriptResponse } from "../http/assets";
import { Elysia } from "elysia";
import { databaseFacts } from "../db/maintenance";
import { setupIsOpen } from "../domain/admin-access";
import { countAdmins } from "../domain/admins";
import { apiTokenStore } from "../domain/credentials";
import { countOrganizations } from "../domain/organizations";
import { countUsers } from "../domain/users";
import type { Tally } from "../delivery/stats";
import { requireSession } from "../http/auth";
import type { AppContext } from "../http/context";
import { humanSize } from "../http/human-size";
import { hourlyBarsSvg } from "../http/admin/attempts-chart";
import { countText } from "../http/admin/lists";
import { adminPage } from "../http/admin/render";
import { html, redirect } from "../http/responses";
import { formatTime, renderFragment } from "../views";
import { VERSION } from "../version";
import { DASHBOARD_SCRIPT } from "./script";
import { type FACILITIES, operationsSnapshot, type DashboardSources, type Operations } from "./snapshot";

const FACILITY_NAMES: Record<(typeof FACILITIES)[number], string> = {
  webhook: "Webhooks",
  "crm-sync": "CRM sync",
  clearbit: "Clearbit",
};

/** "45 s", "12 min", "3 h 20 min", "2 d 4 h". */
function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

function tally(t: Tally) {
  const total = t.succeeded + t.failed;
  return { ...t, total, rate: total ? `${Math.floor((t.succeeded / total) * 1000) / 10}%` : "—", bad: t.failed > 0 };
}

/** The live fragment's view of a snapshot: rates, durations and sizes as people read them. */
function liveView(o: Operations, now: number) {
  const age = (iso: string) => duration(now - Date.parse(iso));
  return {
    updatedAt: formatTime(new Date(o.at)),
    updatedIso: o.at,
    queue: { depth: o.queue.depth, oldestDue: o.queue.oldest_due_at && age(o.queue.oldest_due_at) },
    facilities: o.facilities.map((f) => ({
      facility: f.facility,
      name: FACILITY_NAMES[f.facility],
      lastHour: tally(f.last_hour),
      lastDay: tally(f.last_day),
      chart: hourlyBarsSvg(f.hourly, FACILITY_NAMES[f.facility]),
    })),
    troubled: o.troubled_destinations.map((t) => ({
      key: t.destination,
      name: t.name ?? t.destination,
      href: t.href,
      failingHref: `/logs?${new URLSearchParams({ destination: t.destination, failed_only: "true" })}`,
      since: formatTime(new Date(t.since)),
      sinceAgo: age(t.since),
      state: t.state,
      [t.state]: true,
      reason: t.reason,
      consecutiveFailures: t.consecutive_failures,
      activeJobs: t.active_jobs,
    })),
    clearbit: {
      ...o.clearbit,
      [`key_${o.clearbit.key}`]: true,
      lastError: o.clearbit.last_error,
      lastErrorAt: o.clearbit.last_error_at && formatTime(new Date(o.clearbit.last_error_at)),
      rate: { used: o.clearbit.rate.used, perMinute: o.clearbit.rate.per_minute },
      nextBackfill:
        o.clearbit.next_backfill_at &&
        `${formatTime(new Date(o.clearbit.next_backfill_at))} (in ${duration(Date.parse(o.clearbit.next_backfill_at) - now)})`,
    },
    ingest: { lastMinute: o.ingest.identify_last_minute, lastHour: o.ingest.identify_last_hour },
    storage: {
      database: humanSize(o.storage.database_bytes),
      free: o.storage.free_bytes === null ? "unknown" : humanSize(o.storage.free_bytes),
    },
    nodes: o.nodes.map((n) => ({
      ...n,
      [n.state]: true,
      lastSeen: `${age(n.last_seen_at)} ago`,
      lastSeenAt: formatTime(new Date(n.last_seen_at)),
      up: duration(Date.parse(n.last_seen_at) - Date.parse(n.started_at)),
      schedules: n.running_schedules.join(", "),
    })),
    schedules: o.schedules.map((r) => ({
      ...r,
      [r.outcome]: true,
      periodStart: formatTime(new Date(r.period_start)),
      took: r.finished_at && duration(Date.parse(r.finished_at) - Date.parse(r.started_at)),
    })),
  };
}

/**
 * The operations dashboard: where an admin lands after signing in. The page carries the figures
 * that change (the live fragment), which htmx polls every 5 seconds while the tab is visible.
 * Every figure is a bounded read (see snapshot.ts).
 */
export function dashboardPages(ctx: AppContext, sources: DashboardSources) {
  const live = async () => {
    const now = Date.now();
    return liveView(await operationsSnapshot(ctx, sources, now), now);
  };

  return new Elysia()
    .get("/", async ({ request }) => {
      if (await setupIsOpen(ctx.db)) return redirect(request, "/setup");
      const session = await requireSession(ctx, request);
      const facts = await databaseFacts(ctx.db);
      return adminPage(
        ctx,
        request,
        session,
        "dashboard",
        {
          live: await live(),
          version: VERSION,
          publicUrl: ctx.config.publicUrl,
          counts: {
            people: countText(await countUsers(ctx.db, {})),
            organizations: countText(await countOrganizations(ctx.db, {})),
            admins: await countAdmins(ctx.db),
            tokens: (await apiTokenStore.list(ctx.db)).length,
          },
          database: { path: facts.path, migrations: facts.migrations },
          started: formatTime(ctx.startedAt),
        },
        { title: "Dashboard", section: "dashboard" },
      );
    })
    .get("/dashboard/live", async ({ request }) => {
      await requireSession(ctx, request);
      return html(renderFragment("dashboard-live", await live()));
    })
    .get("/assets/dashboard.js", () => scriptResponse(DASHBOARD_SCRIPT));
}
