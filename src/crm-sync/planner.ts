import { eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { organizationIdOf, roleIdsOf, userExists, userIdsAfter } from "../domain/users";
import { notFound } from "../errors";
import type { DeliveryEngine } from "../delivery";
import { currentHop } from "../delivery/hops";
import { conditionsHold } from "../conditions";
import { roleName } from "../domain/roles";
import type { ChangeEvent } from "../events/feed";
import { destinationOf, filterConditions, getSync, orderingKeyOf, type CrmSync } from "./config";
import { LinkStore } from "./links";
import { crmSyncs } from "./schema";
import { personSourceFromDeleted, type PersonSource } from "./tokens";

export const CRM_JOB_KIND = "crm-sync";
/** hop: the hop count of the request that caused the call (hops.ts); absent: 0. */
export type CrmJobPayload = {
  op: "create" | "update" | "delete";
  syncId: number;
  userId: number;
  person?: PersonSource;
  hop?: number;
};

const UPSERT_EVENTS = new Set(["user.created", "user.updated", "user.enriched"]);
const BULK_BATCH = 500;

export type PlanResult = "create" | "update" | "collapsed" | "none";

/** A queued create or update renders the person at send time, so it already carries a newer change. */
const isUpsert = (payload: unknown) => ["create", "update"].includes((payload as CrmJobPayload).op);

/**
 * Turns user events into CRM calls, inside the transaction that records the event (so the call is
 * queued exactly when the change commits). Templates are rendered at send time from the current
 * person, so one pending update already carries the latest data: a newer update is not queued
 * behind it (collapsing). A delete carries a snapshot, since the row is gone by then.
 */
export class CrmSyncPlanner {
  readonly links: LinkStore;
  private readonly enabledSyncs;

  constructor(
    private readonly db: Db,
    private readonly delivery: DeliveryEngine,
  ) {
    this.links = new LinkStore(db.$client, delivery);
    this.enabledSyncs = db.select().from(crmSyncs).where(eq(crmSyncs.enabled, true)).prepare();
  }

  /** The in-transaction hook on the event feed: the calls join the transaction recording the event. */
  onEvent(event: ChangeEvent): void {
    if (event.objectType !== "user") return;
    const upsert = UPSERT_EVENTS.has(event.type);
    if (!upsert && event.type !== "user.deleted") return;
    const syncs = this.enabledSyncs.all() as CrmSync[];
    for (const sync of syncs) {
      if (upsert) this.planUpsert(sync, event.objectId, "event");
      else this.planDelete(sync, event.objectId, event.changes);
    }
  }

  matches(sync: CrmSync, userId: number): boolean {
    const conditions = filterConditions(sync.filter);
    if (!conditions.length) return true;
    const roles = roleIdsOf(this.db, userId).map(roleName);
    return conditionsHold("all", conditions, { organization_id: organizationIdOf(this.db, userId), roles });
  }

  /**
   * A person was created or changed (event), or an admin asked to resync them. Without a link they
   * are created (also when they newly match the filter); with one they are updated. A resync also
   * re-creates a person whose earlier create failed or yielded no id. Runs in the caller's transaction.
   */
  planUpsert(sync: CrmSync, userId: number, mode: "event" | "resync"): PlanResult {
    if (!this.matches(sync, userId)) return "none";
    const link = this.links.get(sync.id, userId);
    const recreate = mode === "resync" && link !== null && !link.externalId && !this.links.createActive(link);
    if (!link || recreate) {
      const { id } = this.enqueue(sync, userId, { op: "create", syncId: sync.id, userId });
      this.links.startCreate(sync.id, userId, id);
      return "create";
    }
    if (!sync.updateOp.enabled) return "none";
    if (this.delivery.hasPending(orderingKeyOf(sync.id, userId), CRM_JOB_KIND, isUpsert)) return "collapsed";
    this.enqueue(sync, userId, { op: "update", syncId: sync.id, userId });
    return "update";
  }

  planDelete(sync: CrmSync, userId: number, changes: Record<string, [unknown, unknown]>): void {
    const link = this.links.get(sync.id, userId);
    if (!link || link.userDeleted) return;
    if (!sync.deleteOp.enabled) {
      this.links.remove(sync.id, userId);
      return;
    }
    this.links.markUserDeleted(sync.id, userId);
    const person = personSourceFromDeleted(this.db, userId, changes);
    this.enqueue(sync, userId, { op: "delete", syncId: sync.id, userId, person });
  }

  private enqueue(sync: CrmSync, userId: number, payload: CrmJobPayload) {
    return this.delivery.enqueue({
      kind: CRM_JOB_KIND,
      destination: destinationOf(sync.id),
      orderingKey: orderingKeyOf(sync.id, userId),
      payload: { ...payload, hop: currentHop() },
    });
  }

  /** "Resync this person": an update if they have a CRM id, else a create. */
  resync(syncId: number, userId: number): PlanResult {
    const sync = getSync(this.db, syncId);
    return this.db.transaction(() => {
      if (!userExists(this.db, userId)) throw notFound("user");
      return this.planUpsert(sync, userId, "resync");
    });
  }

  /**
   * "Sync all existing users": idempotent (people with a CRM id get an update, not a second
   * create). Batched transactions, yielding between them so the server keeps answering.
   */
  async syncAll(
    syncId: number,
  ): Promise<{ users: number; creates: number; updates: number; collapsed: number; skipped: number }> {
    const sync = getSync(this.db, syncId);
    const counts = { users: 0, creates: 0, updates: 0, collapsed: 0, skipped: 0 };
    let first: number | null = null;
    let last: number | null = null;
    let after = 0;
    for (;;) {
      const ids = userIdsAfter(this.db, after, BULK_BATCH);
      if (!ids.length) break;
      after = ids.at(-1)!;
      this.db.transaction(() => {
        for (const userId of ids) {
          counts.users++;
          const before = this.delivery.lastJobId();
          const r = this.planUpsert(sync, userId, "resync");
          if (r === "create") counts.creates++;
          else if (r === "update") counts.updates++;
          else if (r === "collapsed") counts.collapsed++;
          else counts.skipped++;
          if (r === "create" || r === "update") {
            const id = this.delivery.lastJobId();
            if (id > before) {
              first ??= id;
              last = id;
            }
          }
        }
      });
      await Bun.sleep(0);
    }
    this.db
      .update(crmSyncs)
      .set({ bulkFirstJobId: first, bulkLastJobId: last, bulkStartedAt: new Date() })
      .where(eq(crmSyncs.id, syncId))
      .run();
    return counts;
  }

  /** Progress of the last "sync all": calls queued, finished and failed. */
  bulkProgress(sync: CrmSync): { total: number; done: number; failed: number; startedAt: string } | null {
    if (!sync.bulkStartedAt) return null;
    if (sync.bulkFirstJobId === null || sync.bulkLastJobId === null)
      return { total: 0, done: 0, failed: 0, startedAt: sync.bulkStartedAt.toISOString() };
    return {
      ...this.delivery.progressOf(destinationOf(sync.id), sync.bulkFirstJobId, sync.bulkLastJobId),
      startedAt: sync.bulkStartedAt.toISOString(),
    };
  }
}
