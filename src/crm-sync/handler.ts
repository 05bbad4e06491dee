import type { Db, Tx } from "../db/client";
import type { DeliveryHandler, HttpRequestSpec, HttpResult, Job } from "../delivery";
import type { PersonFields } from "../domain/person-fields";
import type { SecretBox } from "../secrets";
import { cachedSyncs, type CrmSync } from "./config";
import type { CrmJobPayload, CrmSyncPlanner } from "./planner";
import { HOP_HEADER, nextHop } from "../delivery/hops";
import { openSecretHeaders } from "../delivery/secret-headers";
import { TemplateError } from "../templates";
import { renderCall, toRequestSpec, type RenderedCall } from "./render";
import { readExternalId } from "./unique-id";
import { crmSyncSkips } from "./schema";
import { personSourceOf, templateView, type PersonSource } from "./tokens";

const PERMANENT = new Set([400, 404, 405, 409, 413, 415, 422]);

/**
 * Sends the calls the planner queued. Everything is decided at send time: the person's current data
 * (so a pending update carries the latest), the CRM id stored by the create (updates and deletes
 * address it), and whether to skip (no id: not sent, and the log says why).
 */
export function crmSyncHandler(
  db: Db,
  secrets: SecretBox,
  planner: CrmSyncPlanner,
  personFields: PersonFields,
): DeliveryHandler {
  const links = planner.links;
  /** Why a job was not sent, from prepare() to its onSuccess() (same process, same attempt). */
  const skipReasons = new Map<number, string>();

  // From the node's copy of the syncs: prepare() and onSuccess() run for every call.
  const loadSync = async (id: number): Promise<CrmSync | undefined> => (await cachedSyncs(db)).get(id);

  async function authOf(sync: CrmSync): Promise<HttpRequestSpec["auth"]> {
    if (sync.authType === "none" || !sync.authSecret) return undefined;
    const secret = await secrets.decrypt(sync.authSecret);
    return sync.authType === "basic"
      ? { type: "basic", username: sync.authUsername ?? "", password: secret }
      : { type: "bearer", token: secret };
  }

  const skip = (job: Job, reason: string) => {
    skipReasons.set(job.id, reason);
    return null;
  };

  return {
    facility: "crm-sync",
    async prepare(job) {
      const p = job.payload as CrmJobPayload;
      const sync = await loadSync(p.syncId);
      if (!sync) return skip(job, "the sync was deleted");
      const op = p.op === "create" ? sync.createOp : p.op === "update" ? sync.updateOp : sync.deleteOp;
      if (p.op !== "create" && !op.enabled) return skip(job, `${p.op} calls are switched off for this sync`);
      let person: PersonSource | null;
      let externalId: string | null = null;
      if (p.op === "create") {
        person = await personSourceOf(db, personFields, p.userId);
        if (!person) return skip(job, "the person was deleted before the create call was sent");
      } else {
        const link = await links.get(db, p.syncId, p.userId);
        if (!link?.externalId) return skip(job, `${p.op} not sent: ${await links.missingIdReason(link)}`);
        externalId = link.externalId;
        person = p.op === "update" ? await personSourceOf(db, personFields, p.userId) : (p.person ?? { id: p.userId });
        if (!person) return skip(job, "the person was deleted; the delete call follows");
      }
      let call: RenderedCall;
      try {
        call = renderCall(op, templateView(person, externalId));
      } catch (err) {
        // A person's data that cannot be sent safely (e.g. a login ".." in the URL path): logged, not sent.
        if (err instanceof TemplateError) return skip(job, `${p.op} not sent: ${err.message}`);
        throw err;
      }
      const spec = toRequestSpec(call, op, await authOf(sync));
      const secretHeaders = await openSecretHeaders(secrets, sync.secretHeadersSealed);
      return {
        ...spec,
        headers: { ...spec.headers, ...secretHeaders, [HOP_HEADER]: nextHop(p.hop) },
        secrets: Object.values(secretHeaders),
      };
    },
    classify(job, result: HttpResult) {
      // A delete answered "not found": the record is already gone, which is what we wanted.
      if ((job.payload as CrmJobPayload).op === "delete" && result.status === 404) return { kind: "success" };
      // The CRM refuses this payload or address for good: retrying cannot help; an admin can retry it from the log.
      if (result.status !== undefined && PERMANENT.has(result.status))
        return { kind: "fail", error: `HTTP ${result.status}: the CRM refused the call` };
      return undefined;
    },
    async onSuccess(tx: Tx, job, result) {
      const p = job.payload as CrmJobPayload;
      const reason = skipReasons.get(job.id);
      skipReasons.delete(job.id);
      const sync = await loadSync(p.syncId);
      if (!sync) return;
      if (result === null) {
        await recordSkip(tx, p, job.id, reason ?? "nothing to send");
        // A deleted person with nothing to address in the CRM: the bookkeeping ends here.
        if (p.op === "delete" || (p.op === "create" && reason?.includes("deleted")))
          await links.remove(tx, p.syncId, p.userId);
        return;
      }
      if (p.op === "create") {
        const { id, note, refused } = readExternalId(sync.uniqueIdPath, result.body);
        await links.setExternalId(tx, p.syncId, p.userId, id, note);
        if (refused) await recordSkip(tx, p, job.id, note!);
      } else if (p.op === "delete") {
        await links.remove(tx, p.syncId, p.userId);
      }
    },
  };
}

/** Why a planned call sent nothing, or what its answer lacked: shown on the sync's page. */
async function recordSkip(tx: Tx, p: CrmJobPayload, jobId: number, reason: string): Promise<void> {
  await tx
    .insert(crmSyncSkips)
    .values({ syncId: p.syncId, userId: p.userId, operation: p.op, jobId, reason, createdAt: new Date() });
}
