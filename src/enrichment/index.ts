import { registerUserJsonExtension } from "../domain/users";
import type { AppContext } from "../http/context";
import { audienceFlags, Audiences } from "./audiences";
import { registerClearbit, traitsByUser, type ClearbitEnrichment } from "./clearbit";

export { clearbitOf, enrichmentTraits, traitsByUser } from "./clearbit";

const audienceServices = new WeakMap<AppContext, Audiences>();

export function audiencesOf(ctx: AppContext): Audiences {
  const found = audienceServices.get(ctx);
  if (!found) throw new Error("audiences are not registered on this app");
  return found;
}

/**
 * Enrichment at start-up, in one place: the Clearbit delivery handler and event consumer, the
 * audience consumer, and the user JSON's clearbit_ traits and audience flags.
 */
export function registerEnrichment(ctx: AppContext): { clearbit: ClearbitEnrichment; audiences: Audiences } {
  const clearbit = registerClearbit(ctx);
  let audiences = audienceServices.get(ctx);
  if (!audiences) {
    const created = new Audiences(ctx.db, ctx.events);
    audiences = created;
    audienceServices.set(ctx, created);
    ctx.events.onRecord((tx, e) => created.onEvent(tx, e));
  }
  registerUserJsonExtension("clearbit", traitsByUser);
  registerUserJsonExtension("audiences", audienceFlags);
  return { clearbit, audiences };
}
