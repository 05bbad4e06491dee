import type { Core } from "../core";
import { conflict, notFound } from "../errors";
import { destinationOf, getSync, previewSync, syncAsInput, syncJson, type CrmSync } from "./config";
import { listSyncLog } from "./logs";
import type { CrmJobPayload, CrmSyncPlanner } from "./planner";
import { personSourceOf, SAMPLE_PERSON } from "./tokens";

/** What routes (API and admin pages) share: a sync with its state, retry, preview, history. */
export class CrmSyncService {
  constructor(
    private readonly ctx: Pick<Core, "db" | "delivery" | "personFields">,
    readonly planner: CrmSyncPlanner,
  ) {}

  syncState(sync: CrmSync) {
    const { destination: dest, activeJobs } = this.ctx.delivery.destinationHealth(destinationOf(sync.id));
    const counts = this.planner.links.counts(sync.id);
    return {
      people: { with_crm_id: counts.linked, without_crm_id: counts.unlinked },
      /** Why people have no CRM id (so updates are not sent), most common first. */
      missing_id_reasons: counts.notes.map((n) => ({ reason: n.note, people: n.n })),
      queued_calls: activeJobs,
      delivery: dest
        ? {
            last_success_at: dest.lastSuccessAt?.toISOString() ?? null,
            last_failure_at: dest.lastFailureAt?.toISOString() ?? null,
            // A success ends the failing spell: its error is history then, not "the last error".
            last_error: dest.failingSince ? dest.lastError : null,
            disabled: dest.disabledAt !== null,
            disabled_reason: dest.disabledReason,
            paused: dest.pausedAt !== null,
            pause_reason: dest.pauseReason,
          }
        : null,
      bulk: this.planner.bulkProgress(sync),
    };
  }

  syncDetailJson(sync: CrmSync) {
    return { ...syncJson(sync), state: this.syncState(sync) };
  }

  /** Sends a failed call again (a new job with the same delivery id, queued after the person's other calls). */
  retryCall(syncId: number, jobId: number) {
    getSync(this.ctx.db, syncId);
    const job = this.ctx.delivery.getJob(jobId);
    if (!job || job.destination !== destinationOf(syncId)) throw notFound("call");
    if (job.status !== "failed") throw conflict(`only a failed call can be retried; this one is ${job.status}`);
    const copy = this.ctx.delivery.latestRedelivery(jobId);
    if (copy !== null) throw conflict(`this call was already retried as job #${copy}`);
    const again = this.ctx.delivery.redeliver(jobId)!;
    const p = job.payload as CrmJobPayload;
    // A retried create is the one the person's link now waits on.
    if (p.op === "create") this.ctx.db.transaction(() => this.planner.links.startCreate(syncId, p.userId, again.id));
    return { job_id: again.id, delivery_id: again.deliveryId };
  }

  /** A saved sync (optionally with unsaved changes) rendered for one person, or the sample person. */
  previewFor(syncId: number | null, changes: Record<string, unknown>, userId: number | undefined) {
    const base = syncId ? syncAsInput(getSync(this.ctx.db, syncId)) : {};
    const merged: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(changes)) {
      merged[k] =
        v && typeof v === "object" && !Array.isArray(v) && typeof (base as Record<string, unknown>)[k] === "object"
          ? { ...((base as Record<string, unknown>)[k] as object), ...v }
          : v;
    }
    const person = userId ? personSourceOf(this.ctx.db, this.ctx.personFields, userId) : SAMPLE_PERSON;
    if (!person) throw notFound("user");
    const link = syncId && userId ? this.planner.links.get(syncId, userId) : null;
    return { person_id: userId ?? null, ...previewSync(merged, person, link?.externalId ?? null) };
  }

  /** A person's standing with a sync: their CRM id (or why none) and their calls. */
  userHistory(syncId: number, userId: number, query: Record<string, unknown> = {}) {
    getSync(this.ctx.db, syncId);
    const links = this.planner.links;
    const link = links.get(syncId, userId);
    return {
      user_id: userId,
      external_id: link?.externalId ?? null,
      missing_id_reason: link?.externalId ? null : links.missingIdReason(link),
      user_deleted: link?.userDeleted ?? false,
      log: listSyncLog(this.ctx.db, this.ctx.delivery, syncId, { ...query, user_id: userId }),
    };
  }
}
