import type { Feature } from "../feature";
import type { AppContext } from "../http/context";
import { crmSyncPages } from "./admin";
import { crmSyncApi } from "./api";
import { destinationOf, listSyncs } from "./config";
import { crmSyncHandler } from "./handler";
import { CRM_JOB_KIND, CrmSyncPlanner } from "./planner";
import { CrmSyncService } from "./service";

/** CRM sync: the "crm-sync" delivery handler, the planner on the change feed, and its routes. */
export function crmSyncFeature(ctx: AppContext): Feature & { service: CrmSyncService } {
  const planner = new CrmSyncPlanner(ctx.db, ctx.delivery);
  const service = new CrmSyncService(ctx, planner);
  return {
    name: "crm-sync",
    service,
    deliveryHandlers: { [CRM_JOB_KIND]: crmSyncHandler(ctx.db, ctx.secrets, planner, ctx.personFields) },
    consumers: [(tx, event) => planner.onEvent(tx, event)],
    destinations: async () =>
      (await listSyncs(ctx.db)).map((s) => ({
        key: destinationOf(s.id),
        name: `CRM sync ${s.name}`,
        href: `/crm-sync/${s.id}`,
      })),
    routes: [crmSyncApi(ctx, service), crmSyncPages(ctx, service)],
  };
}
