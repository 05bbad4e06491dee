import { and, desc, eq, lt, or, type SQL } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client";
import { httpLogEntryJson, type DeliveryEngine, type HttpLogEntryJson } from "../delivery";
import { decodeTypedCursor, pageOf, type Page } from "../domain/records";
import { validate } from "../errors";
import { destinationOf, orderingKeyOf } from "./config";
import { crmSyncSkips } from "./schema";

export const logFilterSchema = z.strictObject({
  user_id: z.coerce.number().int().positive().optional(),
  operation: z.enum(["create", "update", "delete"]).optional(),
  /** failed: transport errors and non-2xx answers; skipped: calls not sent (with the reason); ok: 2xx. */
  outcome: z.enum(["ok", "failed", "skipped"]).optional(),
  cursor: z.string().max(2000).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/**
 * A call the sync made (its HTTP-log entry, with the person and operation from
 * its job) or one it did not make, and why.
 */
export type LogEntry =
  | (HttpLogEntryJson & { kind: "call"; operation: string | null; user_id: number | null; job_status: string | null })
  | {
      kind: "skipped";
      id: number;
      at: string;
      operation: string;
      user_id: number;
      job_id: number | null;
      job_status: null;
      reason: string;
    };

/**
 * A sync's log: every HTTP attempt (from the delivery engine's redacted HTTP log, with the person
 * and operation from its job) merged with the calls that were not sent and why. Newest first.
 */
export async function listSyncLog(
  db: Db,
  delivery: DeliveryEngine,
  syncId: number,
  input: unknown = {},
): Promise<Page<LogEntry>> {
  const f = validate(logFilterSchema, input);
  // Keyset on (time, kind, id), newest first: the two sources number their rows separately, and at
  // the same millisecond "skipped" sorts before "call". Each source gives one page (and one more).
  const cursor = f.cursor
    ? (decodeTypedCursor(f.cursor, ["number", ["call", "skipped"], "number"]) as [number, LogEntry["kind"], number])
    : null;
  const wanted = f.limit + 1;
  const calls: LogEntry[] =
    f.outcome === "skipped"
      ? []
      : (
          await delivery.listAttemptsWithJobs({
            destination: destinationOf(syncId),
            orderingKey: f.user_id === undefined ? undefined : orderingKeyOf(syncId, f.user_id),
            payloadField: f.operation ? { name: "op", value: f.operation } : undefined,
            outcome: f.outcome,
            before: cursor
              ? { at: cursor[0], id: cursor[1] === "call" ? cursor[2] : Number.MAX_SAFE_INTEGER }
              : undefined,
            limit: wanted,
          })
        ).map(({ entry, job }) => ({
          kind: "call" as const,
          ...httpLogEntryJson(entry),
          operation: (job?.payload as { op?: string } | undefined)?.op ?? null,
          user_id: userOfKey(job?.orderingKey ?? null),
          job_status: job?.status ?? null,
        }));
  const where: SQL[] = [eq(crmSyncSkips.syncId, syncId)];
  if (f.user_id !== undefined) where.push(eq(crmSyncSkips.userId, f.user_id));
  if (f.operation) where.push(eq(crmSyncSkips.operation, f.operation));
  if (cursor) {
    const at = new Date(cursor[0]);
    where.push(
      cursor[1] === "skipped"
        ? or(lt(crmSyncSkips.createdAt, at), and(eq(crmSyncSkips.createdAt, at), lt(crmSyncSkips.id, cursor[2])))!
        : lt(crmSyncSkips.createdAt, at),
    );
  }
  const skips: LogEntry[] =
    f.outcome && f.outcome !== "skipped"
      ? []
      : (
          await db
            .select()
            .from(crmSyncSkips)
            .where(and(...where))
            .orderBy(desc(crmSyncSkips.createdAt), desc(crmSyncSkips.id))
            .limit(wanted)
        ).map((s) => ({
          kind: "skipped" as const,
          id: s.id,
          at: s.createdAt.toISOString(),
          operation: s.operation,
          user_id: s.userId,
          job_id: s.jobId,
          job_status: null,
          reason: s.reason,
        }));
  const merged = [...calls, ...skips].sort((a, b) =>
    a.at !== b.at ? (a.at < b.at ? 1 : -1) : a.kind !== b.kind ? (a.kind < b.kind ? 1 : -1) : b.id - a.id,
  );
  return pageOf(merged, f.limit, (last) => [Date.parse(last.at), last.kind, last.id]);
}

const userOfKey = (key: string | null) => (key ? Number(/:user:(\d+)$/.exec(key)?.[1]) || null : null);
