import { z } from "zod";
import { listNodes } from "../cluster/nodes";
import { lastScheduleRuns } from "../cluster/schedules";
import type { NamedDestination } from "../feature";
import type { AppContext } from "../http/context";
import { isoTime } from "../http/api/operation";

/** What the dashboard reads from the features, handed over by the composition root. */
export type DashboardSources = {
  clearbit: { overview(now?: number): Promise<ClearbitOverview> };
  ingestRate: { snapshot(now?: number): { lastMinute: number; lastHour: number } };
  destinations(): Promise<NamedDestination[]>;
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

export const FACILITIES = ["webhook", "crm-sync", "clearbit"] as const;
/** The endpoints listed as failing, paused or disabled at most (the worst first). */
const TROUBLED_LIMIT = 20;

const tally = z.strictObject({ succeeded: z.number().int(), failed: z.number().int() });
/** The figures of the operations dashboard, as the API answers them and the page shows them. */
export const operationsModel = z.strictObject({
  at: isoTime,
  queue: z.strictObject({ depth: z.number().int(), oldest_due_at: isoTime.nullable() }),
  facilities: z.array(
    z.strictObject({
      facility: z.enum(FACILITIES),
      last_hour: tally,
      last_day: tally,
      /** The last 24 hours, oldest first; the last entry is the hour ending now. */
      hourly: z.array(tally),
    }),
  ),
  troubled_destinations: z.array(
    z.strictObject({
      destination: z.string(),
      name: z.string().nullable(),
      href: z.string().nullable(),
      state: z.enum(["disabled", "paused", "failing"]),
      since: isoTime,
      reason: z.string().nullable(),
      consecutive_failures: z.number().int(),
      active_jobs: z.number().int(),
    }),
  ),
  clearbit: z.strictObject({
    configured: z.boolean(),
    enabled: z.boolean(),
    key: z.enum(["valid", "invalid", "unchecked"]),
    last_error: z.string().nullable(),
    last_error_at: isoTime.nullable(),
    rate: z.strictObject({ used: z.number().int(), per_minute: z.number().int() }),
    next_backfill_at: isoTime.nullable(),
  }),
  ingest: z.strictObject({ identify_last_minute: z.number().int(), identify_last_hour: z.number().int() }),
  storage: z.strictObject({ database_bytes: z.number().int(), free_bytes: z.number().int().nullable() }),
  /** The server processes sharing this database; "stale": no heartbeat for three intervals. */
  nodes: z.array(
    z.strictObject({
      id: z.string(),
      address: z.string(),
      version: z.string(),
      state: z.enum(["live", "stale", "stopped"]),
      started_at: isoTime,
      last_seen_at: isoTime,
      in_flight_deliveries: z.number().int(),
      running_schedules: z.array(z.string()),
    }),
  ),
  /** Each schedule's latest run in the cluster: which period, on which node, how it ended. */
  schedules: z.array(
    z.strictObject({
      name: z.string(),
      period_start: isoTime,
      node: z.string(),
      started_at: isoTime,
      finished_at: isoTime.nullable(),
      outcome: z.enum(["running", "succeeded", "failed"]),
      error: z.string().nullable(),
      attempts: z.number().int(),
    }),
  ),
});
export type Operations = z.infer<typeof operationsModel>;

const iso = (d: Date | number | null) => (d === null ? null : new Date(d).toISOString());

/**
 * Every figure at one moment. Each is a bounded read: the delivery figures' costs are in
 * src/delivery/stats.ts; Clearbit's and the ingest rate are in memory plus a primary-key read;
 * the storage figures are two stat calls and one statfs; nodes and schedules are small tables (a
 * row per node, the latest run per schedule by its key).
 */
export async function operationsSnapshot(ctx: AppContext, sources: DashboardSources, now: number): Promise<Operations> {
  const queue = await ctx.delivery.queueStats(now);
  const facilities = await Promise.all(
    FACILITIES.map(async (facility) => {
      const s = await ctx.delivery.facilityStats(facility, now);
      return { facility, last_hour: s.lastHour, last_day: s.lastDay, hourly: s.hourly };
    }),
  );
  const named = new Map((await sources.destinations()).map((d) => [d.key, d]));
  const troubled = await Promise.all(
    (await ctx.delivery.troubledDestinations(TROUBLED_LIMIT, now)).map(async (t) => {
      const label = named.get(t.key);
      return {
        destination: t.key,
        name: label?.name ?? null,
        href: label?.href ?? null,
        state: t.state,
        since: iso(t.since)!,
        reason: t.reason,
        consecutive_failures: t.consecutiveFailures,
        active_jobs: t.activeJobs,
      };
    }),
  );
  const clearbit = await sources.clearbit.overview(now);
  const ingest = sources.ingestRate.snapshot(now);
  return {
    at: iso(now)!,
    queue: { depth: queue.depth, oldest_due_at: iso(queue.oldestDueAt) },
    facilities,
    troubled_destinations: troubled,
    clearbit: {
      configured: clearbit.configured,
      enabled: clearbit.enabled,
      key: clearbit.key,
      last_error: clearbit.lastError,
      last_error_at: iso(clearbit.lastErrorAt),
      rate: { used: clearbit.rate.used, per_minute: clearbit.rate.perMinute },
      next_backfill_at: iso(clearbit.nextBackfillAt),
    },
    ingest: { identify_last_minute: ingest.lastMinute, identify_last_hour: ingest.lastHour },
    storage: { database_bytes: await ctx.health.databaseBytes(), free_bytes: ctx.health.freeBytes() },
    nodes: (await listNodes(ctx.db, now)).map((n) => ({
      id: n.id,
      address: n.address,
      version: n.version,
      state: n.state,
      started_at: iso(n.startedAt)!,
      last_seen_at: iso(n.lastSeenAt)!,
      in_flight_deliveries: n.activity.in_flight_deliveries,
      running_schedules: n.activity.running_schedules,
    })),
    schedules: (await lastScheduleRuns(ctx.db)).map((r) => ({
      name: r.schedule,
      period_start: iso(r.periodStart)!,
      node: r.nodeId,
      started_at: iso(r.startedAt)!,
      finished_at: iso(r.finishedAt),
      outcome: r.outcome,
      error: r.error,
      attempts: r.attempts,
    })),
  };
}
