import { z } from "zod";
import type { Db } from "../db/client";
import { decodeTypedCursor, pageOf, type Page } from "../domain/records";
import { validate } from "../errors";
import { destinationOf, orderingKeyOf } from "./config";

export const logFilterSchema = z.strictObject({
  user_id: z.coerce.number().int().positive().optional(),
  operation: z.enum(["create", "update", "delete"]).optional(),
  /** failed: transport errors and non-2xx answers; skipped: calls not sent (with the reason); ok: 2xx. */
  outcome: z.enum(["ok", "failed", "skipped"]).optional(),
  cursor: z.string().max(2000).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type LogFilter = z.input<typeof logFilterSchema>;

export type LogEntry = {
  kind: "call" | "skipped";
  id: number;
  at: string;
  operation: string | null;
  user_id: number | null;
  job_id: number | null;
  /** The job's state: a failed one can be retried. */
  job_status: string | null;
  attempt: number | null;
  method: string | null;
  url: string | null;
  status: number | null;
  duration_ms: number | null;
  error: string | null;
  reason: string | null;
  request: { headers: Record<string, string>; body: string | null } | null;
  response: { headers: Record<string, string> | null; body: string | null } | null;
};

/** A row of the merged query: the entry's plain fields, plus what toEntry reshapes. */
type Row = Omit<LogEntry, "at" | "operation" | "request" | "response"> & {
  at: number;
  op: string | null;
  ordering_key: string | null;
  request_headers: string | null;
  request_body: string | null;
  response_headers: string | null;
  response_body: string | null;
};

const FAILED = "(h.error IS NOT NULL OR h.response_status IS NULL OR h.response_status NOT BETWEEN 200 AND 299)";

/**
 * A sync's log: every HTTP attempt (from the delivery engine's redacted HTTP log, with the person
 * and operation from its job) merged with the calls that were not sent and why. Newest first.
 */
export function listSyncLog(db: Db, syncId: number, input: unknown = {}): Page<LogEntry> {
  const f = validate(logFilterSchema, input);
  const callWhere = ["h.destination = $dest"];
  const skipWhere = ["s.sync_id = $sync"];
  const params: Record<string, string | number> = { dest: destinationOf(syncId), sync: syncId, limit: f.limit + 1 };
  if (f.user_id !== undefined) {
    callWhere.push("j.ordering_key = $okey");
    skipWhere.push("s.user_id = $user");
    params.okey = orderingKeyOf(syncId, f.user_id);
    params.user = f.user_id;
  }
  if (f.operation) {
    callWhere.push("json_extract(j.payload, '$.op') = $op");
    skipWhere.push("s.operation = $op");
    params.op = f.operation;
  }
  if (f.outcome === "failed") callWhere.push(FAILED);
  if (f.outcome === "ok") callWhere.push(`NOT ${FAILED}`);
  const calls = `SELECT 'call' AS kind, h.id, h.created_at AS at, json_extract(j.payload, '$.op') AS op, j.ordering_key, NULL AS user_id, h.job_id, j.status AS job_status,
      h.attempt, h.method, h.url, h.response_status AS status, h.duration_ms, h.error, NULL AS reason,
      h.request_headers, h.request_body, h.response_headers, h.response_body
    FROM http_log h LEFT JOIN delivery_jobs j ON j.id = h.job_id WHERE ${callWhere.join(" AND ")}`;
  const skips = `SELECT 'skipped' AS kind, s.id, s.created_at AS at, s.operation AS op, NULL AS ordering_key, s.user_id, s.job_id, NULL AS job_status,
      NULL, NULL, NULL, NULL, NULL, NULL, s.reason, NULL, NULL, NULL, NULL
    FROM crm_sync_skips s WHERE ${skipWhere.join(" AND ")}`;
  const parts = f.outcome === "skipped" ? [skips] : f.outcome ? [calls] : [calls, skips];
  // Keyset on (time, kind, id): the two sources number their rows separately.
  let after = "";
  if (f.cursor) {
    [params.at, params.kind, params.id] = decodeTypedCursor(f.cursor, ["number", ["call", "skipped"], "number"]) as [number, string, number];
    after = "WHERE (at, kind, id) < ($at, $kind, $id)";
  }
  const sql = `SELECT * FROM (${parts.join(" UNION ALL ")}) ${after} ORDER BY at DESC, kind DESC, id DESC LIMIT $limit`;
  const used = Object.fromEntries(Object.entries(params).filter(([k]) => sql.includes(`$${k}`)));
  const page = pageOf(db.$client.query(sql).all(used as never) as Row[], f.limit, (last) => [last.at, last.kind, last.id]);
  return { data: page.data.map(toEntry), next_cursor: page.next_cursor };
}

const parse = (s: string | null) => (s ? (JSON.parse(s) as Record<string, string>) : null);
const userOfKey = (key: string | null) => (key ? Number(/:user:(\d+)$/.exec(key)?.[1]) || null : null);

function toEntry(r: Row): LogEntry {
  const { at, op, ordering_key, request_headers, request_body, response_headers, response_body, ...plain } = r;
  const call = r.kind === "call";
  return {
    ...plain,
    at: new Date(at).toISOString(),
    operation: op,
    user_id: call ? userOfKey(ordering_key) : r.user_id,
    request: call ? { headers: parse(request_headers) ?? {}, body: request_body } : null,
    response: call ? { headers: parse(response_headers), body: response_body } : null,
  };
}
