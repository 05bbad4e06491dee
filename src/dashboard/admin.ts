import { Elysia } from "elysia";
import { countAppliedMigrations } from "../db/migrate";
import { setupIsOpen } from "../domain/admin-access";
import { countAdmins } from "../domain/admins";
import { apiTokenStore } from "../domain/credentials";
import { countOrganizations } from "../domain/organizations";
import { countUsers } from "../domain/users";
import type { Tally, TroubledDestination } from "../delivery/stats";
import type { DestinationLabel } from "../feature";
import { requireSession } from "../http/auth";
import type { AppContext } from "../http/context";
import { humanSize } from "../http/human-size";
import { adminPage } from "../http/admin/render";
import { html, redirect } from "../http/responses";
import { formatTime, renderFragment } from "../views";
import { VERSION } from "../version";
import { hourlyBarsSvg } from "./chart";
import { DASHBOARD_SCRIPT } from "./script";

/** What the dashboard reads from the features, handed over by the composition root. */
export type DashboardSources = {
  clearbit: { overview(now?: number): Promise<ClearbitOverview> };
  ingestRate: { snapshot(now?: number): { lastMinute: number; lastHour: number } };
  describeDestination(key: string): Promise<DestinationLabel | null>;
};
type ClearbitOverview = {
  configured: boolean;
  enabled: boolean;
  key: "valid" | "invalid" | "unchecked";
  lastError: string | null;
  lastErrorAt: Date | null;
  rate: { used: number; perMinute: number };
  nextBackfillAt: Date | null;
};

const FACILITIES = [
  { facility: "webhook", name: "Webhooks" },
  { facility: "crm-sync", name: "CRM sync" },
  { facility: "clearbit", name: "Clearbit" },
];
/** The endpoints listed as failing, paused or disabled at most (the worst first). */
const TROUBLED_LIMIT = 20;

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

/**
 * The operations dashboard: where an admin lands after signing in. The page carries the figures
 * that change (the live fragment), which htmx polls every few seconds while the tab is visible.
 * Every figure is a bounded read (see src/delivery/stats.ts for the delivery figures' costs).
 */
export function dashboardPages(ctx: AppContext, sources: DashboardSources) {
  const troubledView = async (t: TroubledDestination, now: number) => {
    const label = await sources.describeDestination(t.key);
    return {
      ...t,
      name: label?.name ?? t.key,
      href: label?.href ?? null,
      failingHref: `/logs?${new URLSearchParams({ destination: t.key, failed_only: "true" })}`,
      since: formatTime(new Date(t.since)),
      sinceAgo: duration(now - t.since),
      [t.state]: true,
    };
  };

  const live = async () => {
    const now = Date.now();
    const queue = await ctx.delivery.queueStats(now);
    const facilities = await Promise.all(
      FACILITIES.map(async ({ facility, name }) => {
        const s = await ctx.delivery.facilityStats(facility, now);
        return {
          facility,
          name,
          lastHour: tally(s.lastHour),
          lastDay: tally(s.lastDay),
          chart: hourlyBarsSvg(s.hourly, name),
        };
      }),
    );
    const troubled = await ctx.delivery.troubledDestinations(TROUBLED_LIMIT);
    const clearbit = await sources.clearbit.overview(now);
    const free = ctx.health.freeBytes();
    return {
      updatedAt: formatTime(new Date(now)),
      updatedIso: new Date(now).toISOString(),
      queue: { depth: queue.depth, oldestDue: queue.oldestDueAt === null ? null : duration(now - queue.oldestDueAt) },
      facilities,
      troubled: await Promise.all(troubled.map((t) => troubledView(t, now))),
      clearbit: {
        ...clearbit,
        [`key_${clearbit.key}`]: true,
        lastErrorAt: clearbit.lastErrorAt ? formatTime(clearbit.lastErrorAt) : null,
        nextBackfill: clearbit.nextBackfillAt
          ? `${formatTime(clearbit.nextBackfillAt)} (in ${duration(clearbit.nextBackfillAt.getTime() - now)})`
          : null,
      },
      ingest: sources.ingestRate.snapshot(now),
      storage: {
        database: humanSize(ctx.health.databaseBytes()),
        free: free === null ? "unknown" : humanSize(free),
      },
    };
  };

  return new Elysia()
    .get("/", async ({ request }) => {
      if (await setupIsOpen(ctx.db)) return redirect(request, "/setup");
      const session = requireSession(ctx, request);
      const migrations = countAppliedMigrations(ctx.db.$client);
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
            people: await countUsers(ctx.db),
            organizations: await countOrganizations(ctx.db),
            admins: await countAdmins(ctx.db),
            tokens: (await apiTokenStore.list(ctx.db)).length,
          },
          database: { path: ctx.db.$client.filename, migrations },
          started: formatTime(ctx.startedAt),
        },
        { title: "Dashboard", section: "dashboard" },
      );
    })
    .get("/dashboard/live", async ({ request }) => {
      requireSession(ctx, request);
      return html(renderFragment("dashboard-live", await live()));
    })
    .get(
      "/assets/dashboard.js",
      () =>
        new Response(DASHBOARD_SCRIPT, {
          headers: { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=3600" },
        }),
    );
}
