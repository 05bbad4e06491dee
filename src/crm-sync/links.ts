import { statement, type DbOrTx, type Tx } from "../db/client";
import type { DeliveryEngine } from "../delivery";

/** A person's record in the CRM for one sync (see crm_sync_links in schema.ts). */
export type Link = {
  syncId: number;
  userId: number;
  externalId: string | null;
  note: string | null;
  createJobId: number | null;
  userDeleted: boolean;
};
type LinkRow = {
  sync_id: number;
  user_id: number;
  external_id: string | null;
  note: string | null;
  create_job_id: number | null;
  user_deleted: number;
};

/** External-id bookkeeping, compiled once per connection (one text, or SQLite's and PostgreSQL's twin). */
const q = {
  get: statement<LinkRow>("SELECT * FROM crm_sync_links WHERE sync_id = ? AND user_id = ?"),
  startCreate: statement({
    sqlite: `INSERT INTO crm_sync_links
       (sync_id, user_id, create_job_id, external_id, note, user_deleted, created_at, updated_at)
     VALUES (?, ?, ?, NULL, NULL, 0, ?, ?)
     ON CONFLICT (sync_id, user_id) DO UPDATE SET create_job_id = excluded.create_job_id, external_id = NULL,
       note = NULL, user_deleted = 0, updated_at = excluded.updated_at`,
    postgres: `INSERT INTO crm_sync_links
       (sync_id, user_id, create_job_id, external_id, note, user_deleted, created_at, updated_at)
     VALUES ($1, $2, $3, NULL, NULL, false, $4, $5)
     ON CONFLICT (sync_id, user_id) DO UPDATE SET create_job_id = excluded.create_job_id, external_id = NULL,
       note = NULL, user_deleted = false, updated_at = excluded.updated_at`,
  }),
  setExternal: statement(
    "UPDATE crm_sync_links SET external_id = ?, note = ?, updated_at = ? WHERE sync_id = ? AND user_id = ?",
  ),
  setNote: statement("UPDATE crm_sync_links SET note = ?, updated_at = ? WHERE sync_id = ? AND user_id = ?"),
  markDeleted: statement({
    sqlite: "UPDATE crm_sync_links SET user_deleted = 1, updated_at = ? WHERE sync_id = ? AND user_id = ?",
    postgres: "UPDATE crm_sync_links SET user_deleted = true, updated_at = $1 WHERE sync_id = $2 AND user_id = $3",
  }),
  remove: statement("DELETE FROM crm_sync_links WHERE sync_id = ? AND user_id = ?"),
  countLinked: statement<{ linked: number; unlinked: number }>(
    `SELECT COUNT(external_id) AS linked, COUNT(*) - COUNT(external_id) AS unlinked FROM crm_sync_links
     WHERE sync_id = ?`,
  ),
  notes: statement<{ note: string; n: number }>(
    `SELECT note, COUNT(*) AS n FROM crm_sync_links WHERE sync_id = ? AND note IS NOT NULL
     GROUP BY note ORDER BY n DESC LIMIT 5`,
  ),
};

/** A person's CRM ids per sync; writes join the caller's transaction (the planner's hook, the job's onSuccess). */
export class LinkStore {
  constructor(private readonly delivery: Pick<DeliveryEngine, "getJob">) {}

  async get(db: DbOrTx, syncId: number, userId: number): Promise<Link | null> {
    const r = await q.get.get(db, syncId, userId);
    return r
      ? {
          syncId: r.sync_id,
          userId: r.user_id,
          externalId: r.external_id,
          note: r.note,
          createJobId: r.create_job_id,
          userDeleted: r.user_deleted === 1,
        }
      : null;
  }

  /** A create call is queued: the person's link starts over without an id. */
  async startCreate(tx: Tx, syncId: number, userId: number, jobId: number): Promise<void> {
    const now = Date.now();
    await q.startCreate.run(tx, syncId, userId, jobId, now, now);
  }

  async setExternalId(tx: Tx, syncId: number, userId: number, externalId: string | null, note: string | null) {
    await q.setExternal.run(tx, externalId, note, Date.now(), syncId, userId);
  }

  async setNote(tx: Tx, syncId: number, userId: number, note: string | null): Promise<void> {
    await q.setNote.run(tx, note, Date.now(), syncId, userId);
  }

  async markUserDeleted(tx: Tx, syncId: number, userId: number): Promise<void> {
    await q.markDeleted.run(tx, Date.now(), syncId, userId);
  }

  async remove(tx: Tx, syncId: number, userId: number): Promise<void> {
    await q.remove.run(tx, syncId, userId);
  }

  /** Whether the link's create call is still queued or on the wire. */
  async createActive(link: Link): Promise<boolean> {
    if (link.createJobId === null) return false;
    const job = await this.delivery.getJob(link.createJobId);
    return job?.status === "pending" || job?.status === "running";
  }

  /** Why a person has no external id, in words for the log and the sync's page (Deskpro's note). */
  async missingIdReason(link: Link | null): Promise<string> {
    if (!link) return "this person was never created in the CRM by this sync; resync them to create them";
    if (link.note) return link.note;
    if (link.createJobId !== null) {
      const job = await this.delivery.getJob(link.createJobId);
      if (job?.status === "failed")
        return (
          `the create call failed (job #${link.createJobId}${job.lastError ? `: ${job.lastError}` : ""}), ` +
          "so there is no CRM id to address"
        );
      if (job?.status === "cancelled")
        return `the create call was cancelled (job #${link.createJobId}), so there is no CRM id to address`;
    }
    return "the create call has not succeeded yet, so there is no CRM id to address";
  }

  async counts(
    db: DbOrTx,
    syncId: number,
  ): Promise<{ linked: number; unlinked: number; notes: { note: string; n: number }[] }> {
    const c = (await q.countLinked.get(db, syncId))!;
    return { ...c, notes: await q.notes.all(db, syncId) };
  }
}
