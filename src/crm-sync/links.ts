import type { Database, Statement } from "bun:sqlite";
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

/**
 * External-id bookkeeping, as prepared statements on the shared connection: they run inside
 * whatever transaction is open (the planner's hook, the job's onSuccess).
 */
export class LinkStore {
  private s: Record<string, Statement>;

  constructor(
    sqlite: Database,
    private readonly delivery: Pick<DeliveryEngine, "getJob">,
  ) {
    const q = (sql: string) => sqlite.prepare(sql);
    this.s = {
      get: q("SELECT * FROM crm_sync_links WHERE sync_id = ? AND user_id = ?"),
      startCreate: q(
        `INSERT INTO crm_sync_links
           (sync_id, user_id, create_job_id, external_id, note, user_deleted, created_at, updated_at)
         VALUES (?, ?, ?, NULL, NULL, 0, ?, ?)
         ON CONFLICT (sync_id, user_id) DO UPDATE SET create_job_id = excluded.create_job_id, external_id = NULL,
           note = NULL, user_deleted = 0, updated_at = excluded.updated_at`,
      ),
      setExternal: q(
        "UPDATE crm_sync_links SET external_id = ?, note = ?, updated_at = ? WHERE sync_id = ? AND user_id = ?",
      ),
      setNote: q("UPDATE crm_sync_links SET note = ?, updated_at = ? WHERE sync_id = ? AND user_id = ?"),
      markDeleted: q("UPDATE crm_sync_links SET user_deleted = 1, updated_at = ? WHERE sync_id = ? AND user_id = ?"),
      remove: q("DELETE FROM crm_sync_links WHERE sync_id = ? AND user_id = ?"),
      countLinked: q(
        `SELECT COUNT(external_id) AS linked, COUNT(*) - COUNT(external_id) AS unlinked FROM crm_sync_links
         WHERE sync_id = ?`,
      ),
      notes: q(
        `SELECT note, COUNT(*) AS n FROM crm_sync_links WHERE sync_id = ? AND note IS NOT NULL
         GROUP BY note ORDER BY n DESC LIMIT 5`,
      ),
    };
  }

  get(syncId: number, userId: number): Link | null {
    const r = this.s.get!.get(syncId, userId) as LinkRow | null;
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
  startCreate(syncId: number, userId: number, jobId: number): void {
    const now = Date.now();
    this.s.startCreate!.run(syncId, userId, jobId, now, now);
  }

  setExternalId(syncId: number, userId: number, externalId: string | null, note: string | null): void {
    this.s.setExternal!.run(externalId, note, Date.now(), syncId, userId);
  }

  setNote(syncId: number, userId: number, note: string | null): void {
    this.s.setNote!.run(note, Date.now(), syncId, userId);
  }

  markUserDeleted(syncId: number, userId: number): void {
    this.s.markDeleted!.run(Date.now(), syncId, userId);
  }

  remove(syncId: number, userId: number): void {
    this.s.remove!.run(syncId, userId);
  }

  /** Whether the link's create call is still queued or on the wire. */
  createActive(link: Link): boolean {
    if (link.createJobId === null) return false;
    const job = this.delivery.getJob(link.createJobId);
    return job?.status === "pending" || job?.status === "running";
  }

  /** Why a person has no external id, in words for the log and the sync's page (Deskpro's note). */
  missingIdReason(link: Link | null): string {
    if (!link) return "this person was never created in the CRM by this sync; resync them to create them";
    if (link.note) return link.note;
    if (link.createJobId !== null) {
      const job = this.delivery.getJob(link.createJobId);
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

  counts(syncId: number): { linked: number; unlinked: number; notes: { note: string; n: number }[] } {
    const c = this.s.countLinked!.get(syncId) as { linked: number; unlinked: number };
    return { ...c, notes: this.s.notes!.all(syncId) as { note: string; n: number }[] };
  }
}
