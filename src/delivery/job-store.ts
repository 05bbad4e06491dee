import { dialectOf, statement, type DbOrTx, type Tx } from "../db/client";
import { ACTIVE_JOB, RUNNING_JOB, type JobStatus } from "./schema";
import type { Job } from "./types";

type JobRow = {
  id: number;
  kind: string;
  destination: string;
  ordering_key: string | null;
  payload: string;
  status: JobStatus;
  blocked: number;
  attempts: number;
  failed_attempts: number;
  max_attempts: number;
  run_at: number;
  lease_until: number | null;
  lease_owner: string | null;
  delivery_id: string;
  redelivery_of: number | null;
  last_error: string | null;
  last_status: number | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
};

function rowToJob(r: JobRow): Job {
  const date = (ms: number | null) => (ms === null ? null : new Date(ms));
  return {
    id: r.id,
    kind: r.kind,
    destination: r.destination,
    orderingKey: r.ordering_key,
    payload: JSON.parse(r.payload),
    status: r.status,
    blocked: r.blocked === 1,
    attempts: r.attempts,
    failedAttempts: r.failed_attempts,
    maxAttempts: r.max_attempts,
    runAt: new Date(r.run_at),
    leaseUntil: date(r.lease_until),
    leaseOwner: r.lease_owner,
    deliveryId: r.delivery_id,
    redeliveryOf: r.redelivery_of,
    lastError: r.last_error,
    lastStatus: r.last_status,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
    finishedAt: date(r.finished_at),
  };
}

export type NewJobRow = {
  kind: string;
  destination: string;
  orderingKey: string | null;
  /** Stored as JSON. */
  payload: unknown;
  maxAttempts: number;
  runAt: number;
  deliveryId: string;
  redeliveryOf: number | null;
};

/** What a claim asks for: one destination's due jobs, leased to a node. */
export type ClaimRequest = {
  destination: string;
  /** JSON array of the job kinds this node has handlers for. */
  kindsJson: string;
  now: number;
  leaseUntil: number;
  owner: string;
  /** At most this many jobs... */
  wanted: number;
  /** ...and at most this many leased at once for the destination, counting every node's leases. */
  limit: number;
};

/** A claim pass over several destinations: what each is asked for, and what they share. */
export type ClaimBatch = {
  destinations: readonly { destination: string; wanted: number; limit: number }[];
  kindsJson: string;
  now: number;
  leaseUntil: number;
  owner: string;
};

/** How one attempt ends for its job: finished for good, or pending again at `runAt`. */
export type JobOutcome = {
  id: number;
  /** The attempt number the lease was taken with: a stale result (the lease was lost) changes nothing. */
  attempts: number;
  status: "succeeded" | "failed" | "pending";
  runAt: number | null;
  error: string | null;
  httpStatus: number | null;
  addFailure: boolean;
  at: number;
  orderingKey: string | null;
};

const JOB_COLUMNS = `id, kind, destination, ordering_key, payload, status, blocked, attempts, failed_attempts,
  max_attempts, run_at, lease_until, lease_owner, delivery_id, redelivery_of, last_error, last_status, created_at, updated_at,
  finished_at`;

/**
 * The hot-path SQL of the queue, each statement compiled once per connection (drizzle would build
 * it anew on every call). Batches travel as one JSON parameter, so a fan-out, a claim and a tick's
 * outcomes are one statement each whatever their size. One text where both dialects speak it, else
 * SQLite's and its PostgreSQL twin side by side (json_each becomes json_array_elements; the claim's
 * inner SELECT takes FOR UPDATE SKIP LOCKED). Reads take either handle; writes a transaction.
 */
const q = {
  addDestinations: statement({
    sqlite: `INSERT INTO delivery_destinations (key)
     SELECT DISTINCT value ->> 'destination' FROM json_each(?) WHERE true ON CONFLICT(key) DO NOTHING`,
    postgres: `INSERT INTO delivery_destinations (key)
     SELECT DISTINCT v ->> 'destination' FROM json_array_elements($1::json) AS v ON CONFLICT (key) DO NOTHING`,
  }),
  // A job of a strict-order destination is blocked while an earlier job of its ordering key is active
  // (queued before, or earlier in the same batch: `after` says so, as the statement cannot see its own rows).
  // On PostgreSQL a node recording the earlier job's end at the same moment cannot see this uncommitted
  // job to unblock it: the blocked keys are returned, and looked at again once committed (unblockHead).
  insertMany: statement<{ id: number; blocked: number; ordering_key: string | null }>({
    sqlite: `INSERT INTO delivery_jobs (kind, destination, ordering_key, payload, blocked, max_attempts, run_at,
       delivery_id, redelivery_of, created_at, updated_at)
     SELECT v.value ->> 'kind', v.value ->> 'destination', v.value ->> 'orderingKey', v.value -> 'payload',
       CASE WHEN v.value ->> 'orderingKey' IS NOT NULL AND d.strict_order = 1
         AND (v.value ->> 'after' = 1 OR EXISTS (SELECT 1 FROM delivery_jobs j
               WHERE j.ordering_key = v.value ->> 'orderingKey' AND j.${ACTIVE_JOB}))
         THEN 1 ELSE 0 END,
       v.value ->> 'maxAttempts', v.value ->> 'runAt', v.value ->> 'deliveryId', v.value ->> 'redeliveryOf', ?2, ?2
     FROM json_each(?1) v JOIN delivery_destinations d ON d.key = v.value ->> 'destination'
     ORDER BY v.key
     RETURNING id, blocked, ordering_key`,
    postgres: `INSERT INTO delivery_jobs (kind, destination, ordering_key, payload, blocked, max_attempts, run_at,
       delivery_id, redelivery_of, created_at, updated_at)
     SELECT e.v ->> 'kind', e.v ->> 'destination', e.v ->> 'orderingKey', (e.v -> 'payload')::text,
       e.v ->> 'orderingKey' IS NOT NULL AND d.strict_order
         AND ((e.v ->> 'after')::int = 1 OR EXISTS (SELECT 1 FROM delivery_jobs j
               WHERE j.ordering_key = e.v ->> 'orderingKey' AND j.${ACTIVE_JOB})),
       (e.v ->> 'maxAttempts')::int, (e.v ->> 'runAt')::bigint, e.v ->> 'deliveryId',
       (e.v ->> 'redeliveryOf')::bigint, $2, $2
     FROM json_array_elements($1::json) WITH ORDINALITY AS e(v, n)
       JOIN delivery_destinations d ON d.key = e.v ->> 'destination'
     ORDER BY e.n
     RETURNING id, blocked, ordering_key`,
  }),
  // Claims for a destination take turns across nodes: a transaction-scoped advisory lock keyed by the
  // destination (class 0x5344, "SD"), so the count of its leases in the claim (claimAcross) is exact (two nodes counting at
  // once would both see room). Tried, not waited for: a node finding it taken leaves the destination for
  // now, as waits for destinations taken in different orders could deadlock. (A row lock on the
  // destination would also be held by every tick recording its health, leaving claims to that node.)
  // SQLite runs one transaction at a time: the turn is always free (not asked).
  claimTurns: statement<{ key: string }>({
    sqlite: "SELECT value AS key FROM json_each(?)",
    postgres: `SELECT k AS key FROM json_array_elements_text($1::json) AS k
     WHERE pg_try_advisory_xact_lock(21316, hashtext(k))`,
  }),
  nextDue: statement<{ at: number | null }>({
    sqlite: `SELECT MIN(run_at) AS at FROM delivery_jobs
     WHERE destination = ? AND status = 'pending' AND blocked = 0 AND run_at > ?`,
    postgres: `SELECT MIN(run_at) AS at FROM delivery_jobs
     WHERE destination = $1 AND status = 'pending' AND NOT blocked AND run_at > $2`,
  }),
  // A batch of outcomes in one statement; only jobs still leased by this node at the same attempt change.
  record: statement<{ id: number }>({
    sqlite: `UPDATE delivery_jobs SET status = v.value ->> 'status', lease_until = NULL, lease_owner = NULL,
       run_at = COALESCE(v.value ->> 'runAt', delivery_jobs.run_at), last_error = v.value ->> 'error',
       last_status = v.value ->> 'httpStatus', failed_attempts = failed_attempts + (v.value ->> 'addFailure'),
       updated_at = v.value ->> 'at',
       finished_at = CASE WHEN v.value ->> 'status' = 'pending' THEN NULL ELSE v.value ->> 'at' END
     FROM json_each(?1) AS v
     WHERE delivery_jobs.id = v.value ->> 'id' AND delivery_jobs.status = 'running'
       AND delivery_jobs.lease_owner = ?2 AND delivery_jobs.attempts = v.value ->> 'attempts'
     RETURNING delivery_jobs.id`,
    postgres: `UPDATE delivery_jobs SET status = v ->> 'status', lease_until = NULL, lease_owner = NULL,
       run_at = COALESCE((v ->> 'runAt')::bigint, delivery_jobs.run_at), last_error = v ->> 'error',
       last_status = (v ->> 'httpStatus')::int, failed_attempts = failed_attempts + (v ->> 'addFailure')::int,
       updated_at = (v ->> 'at')::bigint,
       finished_at = CASE WHEN v ->> 'status' = 'pending' THEN NULL ELSE (v ->> 'at')::bigint END
     FROM json_array_elements($1::json) AS v
     WHERE delivery_jobs.id = (v ->> 'id')::bigint AND delivery_jobs.status = 'running'
       AND delivery_jobs.lease_owner = $2 AND delivery_jobs.attempts = (v ->> 'attempts')::int
     RETURNING delivery_jobs.id`,
  }),
  // After a blocking insert has committed: the key's first active job, locked (waiting for a record of it
  // in progress to commit, then read again: a finished job is passed over), is unblocked.
  unblockHead: statement({
    sqlite: `UPDATE delivery_jobs SET blocked = 0 WHERE blocked = 1 AND id =
       (SELECT id FROM delivery_jobs WHERE ordering_key = ? AND ${ACTIVE_JOB} ORDER BY id LIMIT 1)`,
    postgres: `UPDATE delivery_jobs SET blocked = false WHERE blocked AND id =
       (SELECT id FROM delivery_jobs WHERE ordering_key = $1 AND ${ACTIVE_JOB} ORDER BY id LIMIT 1 FOR UPDATE)`,
  }),
  // Keeps the invariant "the lowest-id active job of an ordering key is unblocked", for a set of keys.
  unblockNext: statement({
    sqlite: `UPDATE delivery_jobs SET blocked = 0
     WHERE blocked = 1 AND id IN (
       SELECT (SELECT MIN(id) FROM delivery_jobs WHERE ordering_key = k.value AND ${ACTIVE_JOB})
       FROM json_each(?) k)`,
    postgres: `UPDATE delivery_jobs SET blocked = false
     WHERE blocked AND id IN (
       SELECT (SELECT MIN(id) FROM delivery_jobs WHERE ordering_key = k AND ${ACTIVE_JOB})
       FROM json_array_elements_text($1::json) AS k)`,
  }),
  renew: statement({
    sqlite: `UPDATE delivery_jobs SET lease_until = ?1
     WHERE status = 'running' AND lease_owner = ?2 AND id IN (SELECT value FROM json_each(?3))`,
    postgres: `UPDATE delivery_jobs SET lease_until = $1
     WHERE status = 'running' AND lease_owner = $2 AND id IN (SELECT json_array_elements_text($3::json)::bigint)`,
  }),
  // Claimed but never sent (a stop): back to pending, the claim's attempt taken back.
  release: statement({
    sqlite: `UPDATE delivery_jobs SET status = 'pending', attempts = attempts - 1, lease_until = NULL, lease_owner = NULL,
       updated_at = ?1
     WHERE status = 'running' AND lease_owner = ?2 AND id IN (SELECT value FROM json_each(?3))`,
    postgres: `UPDATE delivery_jobs SET status = 'pending', attempts = attempts - 1, lease_until = NULL, lease_owner = NULL,
       updated_at = $1
     WHERE status = 'running' AND lease_owner = $2 AND id IN (SELECT json_array_elements_text($3::json)::bigint)`,
  }),
  // At start: what this node (or a version without lease owners) held before it stopped.
  releaseOwn: statement(
    `UPDATE delivery_jobs SET status = 'pending', lease_until = NULL, lease_owner = NULL, updated_at = ?1
     WHERE ${RUNNING_JOB} AND (lease_owner = ?2 OR lease_owner IS NULL)`,
  ),
  releaseExpired: statement(
    `UPDATE delivery_jobs SET status = 'pending', lease_until = NULL, lease_owner = NULL, updated_at = ?1
     WHERE ${RUNNING_JOB} AND lease_until < ?1`,
  ),
  get: statement<JobRow>(`SELECT ${JOB_COLUMNS} FROM delivery_jobs WHERE id = ?`),
  cancel: statement<{ ordering_key: string | null; destination: string }>(
    `UPDATE delivery_jobs SET status = 'cancelled', updated_at = ?, finished_at = ?
     WHERE id = ? AND status = 'pending' RETURNING ordering_key, destination`,
  ),
  // Asked by feature modules on their hot paths (a CRM update per changed person): prepared too.
  // On PostgreSQL the rows are locked: a job a transaction counts on (a CRM update folded into it) is
  // claimed only once that transaction has committed, so the send reads what it wrote.
  pendingOfKey: statement<{ payload: string; destination: string }>({
    sqlite: `SELECT payload, destination FROM delivery_jobs
     WHERE ordering_key = ? AND ${ACTIVE_JOB} AND status = 'pending' AND kind = ?`,
    postgres: `SELECT payload, destination FROM delivery_jobs
     WHERE ordering_key = $1 AND ${ACTIVE_JOB} AND status = 'pending' AND kind = $2 FOR UPDATE`,
  }),
  activeOf: statement<{ n: number }>(`SELECT COUNT(*) AS n FROM delivery_jobs WHERE destination = ? AND ${ACTIVE_JOB}`),
  lastId: statement<{ id: number }>("SELECT COALESCE(MAX(id), 0) AS id FROM delivery_jobs"),
  count: Object.fromEntries(
    (["pending", "running", "succeeded", "failed", "cancelled"] as const).map((status) => [
      status,
      statement<{ n: number }>(
        `SELECT COUNT(*) AS n FROM delivery_jobs WHERE ${
          status === "pending" ? `${ACTIVE_JOB} AND status = 'pending'` : `status = '${status}'`
        }`,
      ),
    ]),
  ) as Record<JobStatus, ReturnType<typeof statement<{ n: number }>>>,
};

/** Bounds the claim statement variants (one per destination count, each compiled once per connection). */
const DESTINATIONS_PER_CLAIM = 32;
const claimsOf = new Map<number, ReturnType<typeof statement<JobRow>>>();

/**
 * One statement leasing the due jobs of `n` destinations, each as the claim statement does (its own
 * LIMIT within its lease limit, hence a branch per destination: a LIMIT cannot refer to a row).
 * Parameters: lease end, owner, now, kinds; then destination, wanted, limit per branch.
 */
function claimAcross(n: number) {
  let st = claimsOf.get(n);
  if (!st) {
    const branches = (sqlite: boolean) =>
      Array.from({ length: n }, (_, i) => {
        const [p, d, wanted, limit] = [sqlite ? "?" : "$", 5 + 3 * i, 6 + 3 * i, 7 + 3 * i];
        return sqlite
          ? `SELECT id FROM (SELECT id FROM delivery_jobs
             WHERE destination = ${p}${d} AND status = 'pending' AND blocked = 0 AND run_at <= ?3
               AND kind IN (SELECT value FROM json_each(?4))
             ORDER BY run_at, id
             LIMIT MAX(0, MIN(${p}${wanted}, ${p}${limit} - (SELECT COUNT(*) FROM delivery_jobs
                                                  WHERE destination = ${p}${d} AND ${RUNNING_JOB}))))`
          : `SELECT id FROM (SELECT id FROM delivery_jobs
             WHERE destination = ${p}${d} AND status = 'pending' AND NOT blocked AND run_at <= $3
               AND kind IN (SELECT json_array_elements_text($4::json))
             ORDER BY run_at, id
             LIMIT GREATEST(0, LEAST(${p}${wanted}::bigint, ${p}${limit}::bigint - (SELECT COUNT(*) FROM delivery_jobs
                                                  WHERE destination = ${p}${d} AND ${RUNNING_JOB})))
             FOR UPDATE SKIP LOCKED) AS b${i}`;
      }).join(" UNION ALL ");
    const update = (p: string) => `UPDATE delivery_jobs SET status = 'running', attempts = attempts + 1,
       lease_until = ${p}1, lease_owner = ${p}2, updated_at = ${p}3`;
    st = statement<JobRow>({
      sqlite: `${update("?")} WHERE id IN (${branches(true)}) RETURNING ${JOB_COLUMNS}`,
      postgres: `${update("$")} WHERE id IN (${branches(false)}) RETURNING ${JOB_COLUMNS}`,
    });
    claimsOf.set(n, st);
  }
  return st;
}

/** The queue's rows: every read and write of the delivery engine's hot paths. */
export class JobStore {
  /** One multi-row insert for a whole fan-out: the new ids in the order given, and the ordering keys it blocked. */
  async insertMany(tx: Tx, jobs: readonly NewJobRow[], now: number): Promise<{ ids: number[]; blockedKeys: string[] }> {
    if (!jobs.length) return { ids: [], blockedKeys: [] };
    const seen = new Set<string>();
    const rows = jobs.map((j) => {
      const after = j.orderingKey !== null && seen.has(j.orderingKey);
      if (j.orderingKey !== null) seen.add(j.orderingKey);
      return { ...j, after: after ? 1 : 0 };
    });
    const json = JSON.stringify(rows);
    await q.addDestinations.run(tx, json);
    const added = await q.insertMany.all(tx, json, now);
    const blockedKeys = new Set(added.filter((r) => r.blocked && r.ordering_key !== null).map((r) => r.ordering_key!));
    return { ids: added.map((r) => r.id).sort((a, b) => a - b), blockedKeys: [...blockedKeys] };
  }

  /**
   * Unblocks the key's first active job if it is blocked: run in its own transaction after a blocking
   * insert committed, where transactions interleave (PostgreSQL), as the insert may have seen an earlier
   * job active that a node was recording as finished (whose unblock could not see the new job).
   */
  async unblockHead(tx: Tx, orderingKey: string): Promise<number> {
    return await q.unblockHead.run(tx, orderingKey);
  }

  async insert(tx: Tx, job: NewJobRow, now: number): Promise<number> {
    return (await this.insertMany(tx, [job], now)).ids[0]!;
  }

  /**
   * Leases up to `wanted` due jobs of a destination (see ClaimRequest), in due order; null when another
   * node holds the destination's claim turn now (look again shortly).
   */
  async claim(tx: Tx, c: ClaimRequest): Promise<Job[] | null> {
    const { destination, wanted, limit, ...shared } = c;
    return (await this.claimMany(tx, { ...shared, destinations: [{ destination, wanted, limit }] })).get(destination)!;
  }

  /**
   * Claims for several destinations at once, as claim() does for each: their jobs in due order by
   * destination; null for a destination whose claim turn another node holds. One statement takes the
   * turns (PostgreSQL; on SQLite they are always free), one leases for up to 32 destinations.
   */
  async claimMany(tx: Tx, c: ClaimBatch): Promise<Map<string, Job[] | null>> {
    const out = new Map<string, Job[] | null>(c.destinations.map((d) => [d.destination, null]));
    let turned = c.destinations;
    if (dialectOf(tx).transactionsInterleave && turned.length) {
      const keys = new Set(
        (await q.claimTurns.all(tx, JSON.stringify(turned.map((d) => d.destination)))).map((r) => r.key),
      );
      turned = turned.filter((d) => keys.has(d.destination));
    }
    for (let i = 0; i < turned.length; i += DESTINATIONS_PER_CLAIM) {
      const chunk = turned.slice(i, i + DESTINATIONS_PER_CLAIM);
      const params = chunk.flatMap((d) => [d.destination, d.wanted, d.limit]);
      const rows = await claimAcross(chunk.length).all(tx, c.leaseUntil, c.owner, c.now, c.kindsJson, ...params);
      for (const d of chunk) out.set(d.destination, []);
      for (const r of rows.sort((a, b) => a.run_at - b.run_at || a.id - b.id))
        out.get(r.destination)!.push(rowToJob(r));
    }
    return out;
  }

  async nextDueAt(db: DbOrTx, destination: string, now: number): Promise<number | null> {
    return (await q.nextDue.get(db, destination, now))!.at;
  }

  /**
   * Applies a batch of outcomes to jobs leased by `owner` (one statement), then unblocks the next
   * job of every ordering key a finished job held. Returns the ids that changed.
   */
  async record(tx: Tx, outcomes: readonly JobOutcome[], owner: string): Promise<number[]> {
    if (!outcomes.length) return [];
    const changed = await q.record.all(
      tx,
      JSON.stringify(outcomes.map((o) => ({ ...o, addFailure: o.addFailure ? 1 : 0 }))),
      owner,
    );
    const keys = new Set<string>();
    for (const o of outcomes) if (o.orderingKey !== null && o.status !== "pending") keys.add(o.orderingKey);
    if (keys.size) await q.unblockNext.run(tx, JSON.stringify([...keys]));
    return changed.map((r) => r.id);
  }

  /** Extends this node's leases on jobs it still holds. */
  async renew(tx: Tx, owner: string, ids: readonly number[], leaseUntil: number): Promise<number> {
    return ids.length ? await q.renew.run(tx, leaseUntil, owner, JSON.stringify(ids)) : 0;
  }

  /** Hands back leased jobs this node never sent. */
  async release(tx: Tx, owner: string, ids: readonly number[], now: number): Promise<number> {
    return ids.length ? await q.release.run(tx, now, owner, JSON.stringify(ids)) : 0;
  }

  /**
   * Only pending jobs can be cancelled: a running one is already on the wire. Returns the cancelled job's destination.
   */
  async cancel(tx: Tx, id: number, now: number): Promise<{ destination: string } | null> {
    const row = await q.cancel.get(tx, now, now, id);
    if (!row) return null;
    if (row.ordering_key) await q.unblockNext.run(tx, JSON.stringify([row.ordering_key]));
    return { destination: row.destination };
  }

  /** At start: jobs this node leased before it stopped (nothing of them is in flight now) go back to pending. */
  async releaseOwn(tx: Tx, owner: string, now: number): Promise<number> {
    return await q.releaseOwn.run(tx, now, owner);
  }

  /** Jobs whose lease ran out (their node died or hung) go back to pending, claimable by any node. */
  async releaseExpired(tx: Tx, now: number): Promise<number> {
    return await q.releaseExpired.run(tx, now);
  }

  /** Active and failed jobs are counted from their small partial indexes (the /metrics gauges). */
  async count(db: DbOrTx, status: JobStatus): Promise<number> {
    return (await q.count[status].get(db))!.n;
  }

  /** The pending jobs of one kind sharing an ordering key (few: they are sent one at a time). */
  async pendingOfKey(tx: Tx, orderingKey: string, kind: string): Promise<{ payload: unknown; destination: string }[]> {
    return (await q.pendingOfKey.all(tx, orderingKey, kind)).map((r) => ({ ...r, payload: JSON.parse(r.payload) }));
  }

  /** Jobs of a destination still to send or on the wire. */
  async countActive(db: DbOrTx, destination: string): Promise<number> {
    return (await q.activeOf.get(db, destination))!.n;
  }

  /** The newest job's id (0 without any): ids grow, so jobs queued later have larger ones. */
  async lastId(db: DbOrTx): Promise<number> {
    return (await q.lastId.get(db))!.id;
  }

  async get(db: DbOrTx, id: number): Promise<Job | null> {
    const row = await q.get.get(db, id);
    return row ? rowToJob(row) : null;
  }
}
