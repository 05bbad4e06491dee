import { eq, sql } from "drizzle-orm";
import { JSONPath } from "jsonpath-plus";
import type { Db, Tx } from "../db/client";
import type { DeliveryHandler, HttpRequestSpec, HttpResult, Job } from "../delivery";
import type { PersonFields } from "../domain/person-fields";
import type { SecretBox } from "../secrets";
import type { CrmSync } from "./config";
import type { CrmJobPayload, CrmSyncPlanner } from "./planner";
import { HOP_HEADER, nextHop } from "../delivery/hops";
import { openSecretHeaders } from "../delivery/secret-headers";
import { TemplateError } from "../templates";
import { renderCall, toRequestSpec, type RenderedCall } from "./render";
import { crmSyncs, crmSyncSkips } from "./schema";
import { personSourceOf, templateView, type PersonSource } from "./tokens";

const PERMANENT = new Set([400, 404, 405, 409, 413, 415, 422]);

/** Ids that would address something else once put into a URL path (the collection, or its parent). */
const UNUSABLE_IDS = new Set(["", ".", ".."]);

/**
 * The CRM id in a create response, or why there is none (kept as the link's note). `refused`: the
 * CRM answered an id that cannot address a record; it is not stored and the sync log says so.
 */
function readExternalId(path: string, body: string): { id: string | null; note: string | null; refused?: boolean } {
  if (!path)
    return {
      id: null,
      note: "no Unique ID Path is set, so updates and deletes cannot be sent to the CRM beyond the initial creation",
    };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { id: null, note: `the create response is not JSON, so the Unique ID Path ${path} found nothing` };
  }
  let found: unknown;
  try {
    found = JSONPath({ path, json: json as object, wrap: false });
  } catch (err) {
    return { id: null, note: `the Unique ID Path ${path} failed: ${(err as Error).message}` };
  }
  if (Array.isArray(found)) found = found[0];
  if (typeof found === "string" && UNUSABLE_IDS.has(found.trim())) {
    return {
      id: null,
      note:
        `the CRM answered the id ${JSON.stringify(found)} at ${path}, ` +
        "which cannot address a record in a URL; it was refused",
      refused: true,
    };
  }
  if (typeof found === "string") return { id: found, note: null };
  if (typeof found === "number" && Number.isFinite(found)) return { id: String(found), note: null };
  return { id: null, note: `the Unique ID Path ${path} found no id in the create response` };
}

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

  // Prepared once: prepare() and onSuccess() run for every call.
  const syncById = db
    .select()
    .from(crmSyncs)
    .where(eq(crmSyncs.id, sql.placeholder("id")))
    .prepare();
  const loadSync = async (id: number): Promise<CrmSync | undefined> => (await syncById.execute({ id }))[0];

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
