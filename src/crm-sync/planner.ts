import { eq } from "drizzle-orm";
import type { Db, DbOrTx, Tx } from "../db/client";
import { organizationIdOf, roleIdsOf, userExists, userIdsAfter } from "../domain/users";
import { notFound } from "../errors";
import type { DeliveryEngine } from "../delivery";
import { currentHop } from "../delivery/hops";
import { conditionsHold } from "../conditions";
import { roleName } from "../domain/roles";
import type { ChangeEvent } from "../events/feed";
import {
  cachedSyncs,
  destinationOf,
  filterConditions,
  getSync,
  orderingKeyOf,
  syncsChanged,
  type CrmSync,
} from "./config";
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

  constructor(
    private readonly db: Db,
    private readonly delivery: DeliveryEngine,
  ) {
    this.links = new LinkStore(delivery);
  }

  /** The in-transaction hook on the event feed: the calls join the transaction recording the event. */
  async onEvent(tx: Tx, event: ChangeEvent): Promise<void> {
    if (event.objectType !== "user") return;
    const upsert = UPSERT_EVENTS.has(event.type);
    if (!upsert && event.type !== "user.deleted") return;
    const syncs = await cachedSyncs(this.db);
    for (const sync of syncs.values()) {
      if (!sync.enabled) continue;
      if (upsert) await this.planUpsert(tx, sync, event.objectId, "event");
      else await this.planDelete(tx, sync, event.objectId, event.changes);
    }
  }

  async matches(db: DbOrTx, sync: CrmSync, userId: number): Promise<boolean> {
    const conditions = filterConditions(sync.filter);
    if (!conditions.length) return true;
    const roles = (await roleIdsOf(db, userId)).map(roleName);
    return conditionsHold("all", conditions, { organization_id: await organizationIdOf(db, userId), roles });
  }

  /**
   * A person was created or changed (event), or an admin asked to resync them. Without a link they
   * are created (also when they newly match the filter); with one they are updated. A resync also
   * re-creates a person whose earlier create failed or yielded no id. Runs in the caller's transaction.
   */
  async planUpsert(tx: Tx, sync: CrmSync, userId: number, mode: "event" | "resync"): Promise<PlanResult> {
    if (!(await this.matches(tx, sync, userId))) return "none";
    const link = await this.links.get(tx, sync.id, userId);
    const recreate = mode === "resync" && link !== null && !link.externalId && !(await this.links.createActive(link));
    if (!link || recreate) {
      const { id } = await this.enqueue(tx, sync, userId, { op: "create", syncId: sync.id, userId });
      await this.links.startCreate(tx, sync.id, userId, id);
      return "create";
    }
    if (!sync.updateOp.enabled) return "none";
    if (await this.delivery.hasPending(tx, orderingKeyOf(sync.id, userId), CRM_JOB_KIND, isUpsert)) return "collapsed";
    await this.enqueue(tx, sync, userId, { op: "update", syncId: sync.id, userId });
    return "update";
  }

  async planDelete(tx: Tx, sync: CrmSync, userId: number, changes: Record<string, [unknown, unknown]>): Promise<void> {
    const link = await this.links.get(tx, sync.id, userId);
    if (!link || link.userDeleted) return;
    if (!sync.deleteOp.enabled) {
      await this.links.remove(tx, sync.id, userId);
      return;
    }
    await this.links.markUserDeleted(tx, sync.id, userId);
    const person = await personSourceFromDeleted(tx, userId, changes);
    await this.enqueue(tx, sync, userId, { op: "delete", syncId: sync.id, userId, person });
  }

  private async enqueue(tx: Tx, sync: CrmSync, userId: number, payload: CrmJobPayload) {
    return await this.delivery.enqueue(tx, {
      kind: CRM_JOB_KIND,
      destination: destinationOf(sync.id),
      orderingKey: orderingKeyOf(sync.id, userId),
      payload: { ...payload, hop: currentHop() },
    });
  }

  /** "Resync this person": an update if they have a CRM id, else a create. */
  async resync(syncId: number, userId: number): Promise<PlanResult> {
    const sync = await getSync(this.db, syncId);
    return await this.db.transaction(async (tx) => {
      if (!(await userExists(tx, userId))) throw notFound("user");
      return this.planUpsert(tx, sync, userId, "resync");
    });
  }

  /**
   * "Sync all existing users": idempotent (people with a CRM id get an update, not a second
   * create). Batched transactions, yielding between them so the server keeps answering.
   */
  async syncAll(
    syncId: number,
  ): Promise<{ users: number; creates: number; updates: number; collapsed: number; skipped: number }> {
    const sync = await getSync(this.db, syncId);
    const counts = { users: 0, creates: 0, updates: 0, collapsed: 0, skipped: 0 };
    let first: number | null = null;
    let last: number | null = null;
    let after = 0;
    for (;;) {
      const ids = await userIdsAfter(this.db, after, BULK_BATCH);
      if (!ids.length) break;
      after = ids.at(-1)!;
      await this.db.transaction(async (tx) => {
        for (const userId of ids) {
          counts.users++;
          const before = await this.delivery.lastJobId(tx);
          const r = await this.planUpsert(tx, sync, userId, "resync");
          if (r === "create") counts.creates++;
          else if (r === "update") counts.updates++;
          else if (r === "collapsed") counts.collapsed++;
          else counts.skipped++;
          if (r === "create" || r === "update") {
            const id = await this.delivery.lastJobId(tx);
            if (id > before) {
              first ??= id;
              last = id;
            }
          }
        }
      });
      await Bun.sleep(0);
    }
    await this.db.transaction(async (tx) => {
      syncsChanged(this.db, tx);
      await tx
        .update(crmSyncs)
        .set({ bulkFirstJobId: first, bulkLastJobId: last, bulkStartedAt: new Date() })
        .where(eq(crmSyncs.id, syncId));
    });
    return counts;
  }

  /** Progress of the last "sync all": calls queued, finished and failed. */
  async bulkProgress(
    sync: CrmSync,
  ): Promise<{ total: number; done: number; failed: number; startedAt: string } | null> {
    if (!sync.bulkStartedAt) return null;
    if (sync.bulkFirstJobId === null || sync.bulkLastJobId === null)
      return { total: 0, done: 0, failed: 0, startedAt: sync.bulkStartedAt.toISOString() };
    return {
      ...(await this.delivery.progressOf(destinationOf(sync.id), sync.bulkFirstJobId, sync.bulkLastJobId)),
      startedAt: sync.bulkStartedAt.toISOString(),
    };
  }
}
