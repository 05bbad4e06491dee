import type { Feature } from "../feature";
import type { AppContext } from "../http/context";
import { dashboardPages } from "./admin";
import { dashboardApi } from "./api";
import type { DashboardSources } from "./snapshot";

/** The operations dashboard: the page an admin lands on, with figures that refresh themselves, and its API. */
export function dashboardFeature(ctx: AppContext, sources: DashboardSources): Feature {
  return { name: "dashboard", routes: [dashboardApi(ctx, sources), dashboardPages(ctx, sources)] };
}
