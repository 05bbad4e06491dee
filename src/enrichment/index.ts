import type { Feature } from "../feature";
import type { AppContext } from "../http/context";
import { enrichmentApi } from "./api";
import { integrationPages } from "./admin";
import { audienceFlags, Audiences } from "./audiences";
import {
  BACKFILL_MINUTE,
  ClearbitEnrichment,
  DESTINATION,
  DESTINATION_CONCURRENCY,
  KIND,
  traitsByUser,
} from "./clearbit";

export { enrichmentTraits } from "./clearbit";

export type Enrichment = { clearbit: ClearbitEnrichment; audiences: Audiences };

/**
 * Enrichment: Clearbit lookups (delivery handler, change-feed consumer, hourly backfill), audiences
 * (consumer, hourly refresh of time-based conditions), and the person's clearbit_ traits and audience flags.
 */
export async function enrichmentFeature(ctx: AppContext): Promise<Feature & Enrichment> {
  const clearbit = new ClearbitEnrichment(ctx);
  const audiences = new Audiences(ctx.db, ctx.events);
  // Jobs wait their turn for a rate-limit slot while holding a send slot: enough of them in flight
  // keep the pace at the limit; the limiter, not this number, bounds the rate.
  await ctx.db.transaction(async (tx) =>
    ctx.delivery.configureDestination(tx, DESTINATION, { concurrency: DESTINATION_CONCURRENCY }),
  );
  const services = { clearbit, audiences };
  return {
    name: "enrichment",
    ...services,
    deliveryHandlers: { [KIND]: clearbit.handler() },
    consumers: [(tx, e) => clearbit.onEvent(tx, e), (tx, e) => audiences.onEvent(tx, e)],
    personFields: [traitsByUser, audienceFlags],
    destinations: async () => [{ key: DESTINATION, name: "Clearbit", href: "/integrations/clearbit" }],
    schedules: [
      {
        // Hourly: a Clearbit backfill when one is due (default every 24 h), and
        // audiences whose time-based conditions drift.
        name: "enrichment",
        pattern: `0 ${BACKFILL_MINUTE} * * * *`,
        run: async () => {
          const run = await clearbit.scheduledBackfill();
          if (run) ctx.log.info("clearbit backfill planned", { lookups: run.planned });
          const flips = await audiences.refreshAll();
          if (flips) ctx.log.info("audience memberships changed", { flips });
        },
      },
    ],
    routes: [enrichmentApi(ctx, services), integrationPages(ctx, services)],
    // Jobs waiting for a rate-limit slot give up at once, so the delivery engine drains quickly.
    stop: () => {
      clearbit.limiter.close();
    },
  };
}
