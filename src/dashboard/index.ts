import type { Feature } from "../feature";
import type { AppContext } from "../http/context";
import { dashboardPages, type DashboardSources } from "./admin";

/** The operations dashboard: the page an admin lands on, with figures that refresh themselves. */
export function dashboardFeature(ctx: AppContext, sources: DashboardSources): Feature {
  return { name: "dashboard", routes: [dashboardPages(ctx, sources)] };
}
