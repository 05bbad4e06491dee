import { crmSyncFeature } from "./crm-sync";
import { dashboardFeature } from "./dashboard";
import { enrichmentFeature } from "./enrichment";
import { ingestFeature } from "./ingest";
import type { Feature, NamedDestination } from "./feature";
import type { AppContext } from "./http/context";
import { webhooksFeature } from "./webhooks";

export type Features = {
  enrichment: Awaited<ReturnType<typeof enrichmentFeature>>;
  webhooks: ReturnType<typeof webhooksFeature>;
  crmSync: ReturnType<typeof crmSyncFeature>;
  /** Every feature, in the order its change-feed consumers run inside each change's transaction. */
  all: Feature[];
  /** Every delivery destination of every feature, named. */
  destinations(): Promise<NamedDestination[]>;
};

async function destinationsOf(features: Feature[]): Promise<NamedDestination[]> {
  return (await Promise.all(features.map((f) => f.destinations?.() ?? []))).flat();
}

/**
 * The composition root: builds the feature modules and registers what each declares (delivery
 * handlers, change-feed consumers, person fields). Schedules and routes are taken from `all` by
 * jobs.ts and app.ts. Called once at start-up, before the delivery engine starts claiming jobs.
 */
export async function buildFeatures(ctx: AppContext): Promise<Features> {
  const enrichment = await enrichmentFeature(ctx);
  const webhooks = webhooksFeature(ctx);
  const crmSync = crmSyncFeature(ctx);
  const ingest = ingestFeature(ctx);
  const modules: Feature[] = [enrichment, webhooks, crmSync, ingest];
  const dashboard = dashboardFeature(ctx, {
    clearbit: enrichment.clearbit,
    ingestRate: ingest.rate,
    destinations: () => destinationsOf(modules),
  });
  const all: Feature[] = [...modules, dashboard];
  for (const feature of all) {
    for (const [kind, handler] of Object.entries(feature.deliveryHandlers ?? {})) ctx.delivery.register(kind, handler);
    for (const consumer of feature.consumers ?? []) ctx.events.onRecord(consumer);
    for (const source of feature.personFields ?? []) ctx.personFields.add(source);
  }
  return { enrichment, webhooks, crmSync, all, destinations: () => destinationsOf(modules) };
}
