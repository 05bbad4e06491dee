import type { AppContext } from "../http/context";
import { crmSyncHandler } from "./handler";
import { CRM_JOB_KIND, CrmSyncPlanner } from "./planner";

export type CrmSyncService = { planner: CrmSyncPlanner };

const services = new WeakMap<AppContext, CrmSyncService>();

/**
 * The CRM sync of an app context, wired once: the delivery handler for "crm-sync" jobs and the
 * planner as an in-transaction hook on the event feed. Routes call this; the first call registers.
 */
export function crmSync(ctx: AppContext): CrmSyncService {
  let service = services.get(ctx);
  if (!service) {
    const planner = new CrmSyncPlanner(ctx.db, ctx.delivery);
    ctx.delivery.register(CRM_JOB_KIND, crmSyncHandler(ctx.db, ctx.secrets, planner));
    ctx.events.onRecord((tx, event) => planner.onEvent(tx, event));
    service = { planner };
    services.set(ctx, service);
  }
  return service;
}
