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

  async syncState(sync: CrmSync) {
    const { destination: dest, activeJobs } = await this.ctx.delivery.destinationHealth(destinationOf(sync.id));
    const counts = await this.planner.links.counts(this.ctx.db, sync.id);
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
      bulk: await this.planner.bulkProgress(sync),
    };
  }

  async syncDetailJson(sync: CrmSync) {
    return { ...syncJson(sync), state: await this.syncState(sync) };
  }

  /** Sends a failed call again (a new job with the same delivery id, queued after the person's other calls). */
  async retryCall(syncId: number, jobId: number) {
    await getSync(this.ctx.db, syncId);
    const job = await this.ctx.delivery.getJob(jobId);
    if (!job || job.destination !== destinationOf(syncId)) throw notFound("call");
    if (job.status !== "failed") throw conflict(`only a failed call can be retried; this one is ${job.status}`);
    const copy = await this.ctx.delivery.latestRedelivery(jobId);
    if (copy !== null) throw conflict(`this call was already retried as job #${copy}`);
    const again = (await this.ctx.delivery.redeliver(jobId))!;
    const p = job.payload as CrmJobPayload;
    // A retried create is the one the person's link now waits on.
    if (p.op === "create")
      await this.ctx.db.transaction(async (tx) => this.planner.links.startCreate(tx, syncId, p.userId, again.id));
    return { job_id: again.id, delivery_id: again.deliveryId };
  }

  /** A saved sync (optionally with unsaved changes) rendered for one person, or the sample person. */
  async previewFor(syncId: number | null, changes: Record<string, unknown>, userId: number | undefined) {
    const base = syncId ? syncAsInput(await getSync(this.ctx.db, syncId)) : {};
    const merged: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(changes)) {
      merged[k] =
        v && typeof v === "object" && !Array.isArray(v) && typeof (base as Record<string, unknown>)[k] === "object"
          ? { ...((base as Record<string, unknown>)[k] as object), ...v }
          : v;
    }
    const person = userId ? await personSourceOf(this.ctx.db, this.ctx.personFields, userId) : SAMPLE_PERSON;
    if (!person) throw notFound("user");
    const link = syncId && userId ? await this.planner.links.get(this.ctx.db, syncId, userId) : null;
    return { person_id: userId ?? null, ...previewSync(merged, person, link?.externalId ?? null) };
  }

  /** A person's standing with a sync: their CRM id (or why none) and their calls. */
  async userHistory(syncId: number, userId: number, query: Record<string, unknown> = {}) {
    await getSync(this.ctx.db, syncId);
    const links = this.planner.links;
    const link = await links.get(this.ctx.db, syncId, userId);
    return {
      user_id: userId,
      external_id: link?.externalId ?? null,
      missing_id_reason: link?.externalId ? null : await links.missingIdReason(link),
      user_deleted: link?.userDeleted ?? false,
      log: await listSyncLog(this.ctx.db, this.ctx.delivery, syncId, { ...query, user_id: userId }),
    };
  }
}
