import { Elysia } from "elysia";
import { requireApiToken } from "../http/auth";
import type { AppContext } from "../http/context";
import { json } from "../http/responses";
import { op } from "../http/api/operation";
import { operationsModel, operationsSnapshot, type DashboardSources } from "./snapshot";

/** The operations dashboard's figures for monitoring programs: what the dashboard page shows. */
export function dashboardApi(ctx: AppContext, sources: DashboardSources) {
  return new Elysia().get(
    "/api/v1/operations",
    async ({ request }) => {
      await requireApiToken(ctx, request);
      return json(await operationsSnapshot(ctx, sources, Date.now()));
    },
    op({
      summary:
        "Operations figures: queue depth and oldest due job, per-facility attempts (last hour, day, per hour), " +
        "failing/paused/disabled destinations, Clearbit status, identify rate, database size and free disk, " +
        "the cluster's nodes (live, stale or stopped, and what each is doing) and each schedule's latest run",
      response: operationsModel,
    }),
  );
}
