import { crmSyncFeature } from "./crm-sync";
import { enrichmentFeature } from "./enrichment";
import { ingestFeature } from "./ingest";
import type { Feature } from "./feature";
import type { AppContext } from "./http/context";
import { webhooksFeature } from "./webhooks";

export type Features = {
  enrichment: Awaited<ReturnType<typeof enrichmentFeature>>;
  webhooks: ReturnType<typeof webhooksFeature>;
  crmSync: ReturnType<typeof crmSyncFeature>;
  /** Every feature, in the order its change-feed consumers run inside each change's transaction. */
  all: Feature[];
};

/**
 * The composition root: builds the feature modules and registers what each declares (delivery
 * handlers, change-feed consumers, person fields). Schedules and routes are taken from `all` by
 * jobs.ts and app.ts. Called once at start-up, before the delivery engine starts claiming jobs.
 */
export async function buildFeatures(ctx: AppContext): Promise<Features> {
  const enrichment = await enrichmentFeature(ctx);
  const webhooks = webhooksFeature(ctx);
  const crmSync = crmSyncFeature(ctx);
  const all: Feature[] = [enrichment, webhooks, crmSync, ingestFeature(ctx)];
  for (const feature of all) {
    for (const [kind, handler] of Object.entries(feature.deliveryHandlers ?? {})) ctx.delivery.register(kind, handler);
    for (const consumer of feature.consumers ?? []) ctx.events.onRecord(consumer);
    for (const source of feature.personFields ?? []) ctx.personFields.add(source);
  }
  return { enrichment, webhooks, crmSync, all };
}
