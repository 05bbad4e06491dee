import { hostname } from "node:os";
import { dialectOf, type Db, type DbOrTx, type Tx } from "../db/client";
import type { Logger } from "../log";
import {
  destinationHealth,
  DestinationStore,
  getDestination,
  listDestinations,
  type Destination,
  type DestinationHealth,
} from "./destinations";
import {
  attemptsOverTime,
  getHttpLogEntry,
  listAttemptsWithJobs,
  listHttpLog,
  pruneHttpLog,
  recordHttpAttempts,
  DEFAULT_LOG_RETENTION,
  type AttemptBucket,
  type AttemptFilter,
  type AttemptWithJob,
  type HttpAttempt,
  type HttpLogEntry,
  type HttpLogFilter,
  type LogRetention,
} from "./http-log";
import { requestHeaders, secretsOf, sendHttp } from "./http-sender";
import {
  countByStatus,
  failedDeliveryJobIds,
  latestRedelivery,
  listJobs,
  minActivePayloadField,
  progressOf,
  pruneFinishedJobs,
  type JobCounts,
  type JobFilter,
} from "./job-queries";
import { JobStore, type JobOutcome, type NewJobRow } from "./job-store";
import {
  attemptVerdict,
  AttemptTally,
  facilityStats,
  pruneAttemptCounts,
  queueStats,
  troubledDestinations,
  type FacilityStats,
  type QueueStats,
  type TroubledDestination,
} from "./stats";
import type { JobStatus } from "./schema";
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_SCHEDULE, defaultOutcome, retryDelay } from "./retry-policy";
import {
  httpRequestSpecSchema,
  type DeliveryHandler,
  type DestinationOptions,
  type EnqueueInput,
  type HttpResult,
  type Job,
  type Outcome,
  type ValidHttpRequestSpec,
  withSpecDefaults,
} from "./types";

export type EngineOptions = {
  /** Sends in flight at once, over all destinations. */
  globalConcurrency: number;
  /** Sends in flight at once per destination, unless the destination sets its own. */
  destinationConcurrency: number;
  /** A destination failing this long without a single success is disabled. */
  autoDisableAfterMs: number;
  /**
   * How long a claim holds a job. A live node renews its leases every third of this; a job whose lease
   * ran out (its node died or hung) goes back to the queue for any node, with the same delivery id.
   */
  leaseMs: number;
  /** Names this node in leases: a node restarting with the same id takes its own leases back at once. */
  nodeId: string;
  /** Even without wake-ups the queue is looked at this often (expired leases, clock changes). */
  idleCheckMs: number;
  logRetention: LogRetention;
  /** Finished jobs are kept this long for the UI, then pruned. */
  finishedJobRetentionMs: number;
};

/** Many sends in flight also means many results per tick's transaction: fewer commits per delivery. */
const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  globalConcurrency: 64,
  destinationConcurrency: 8,
  autoDisableAfterMs: 5 * 86_400_000,
  leaseMs: 60_000,
  nodeId: `${hostname()}:${process.pid}`,
  idleCheckMs: 30_000,
  logRetention: DEFAULT_LOG_RETENTION,
  finishedJobRetentionMs: 30 * 86_400_000,
};

/** How soon a destination another node was claiming for is looked at again. */
const BUSY_DESTINATION_RETRY_MS = 25;

/** What was sent (the headers as on the wire) and what came back. */
type Attempt = { spec: ValidHttpRequestSpec; headers: Record<string, string>; result: HttpResult } | null;
/** A send that has ended and waits for the next tick to be recorded. */
type Finished = { job: Job; handler: DeliveryHandler; outcome: Outcome; attempt: Attempt; at: number };

/**
 * The one queue and retry loop for everything that leaves the box. Jobs are rows; enqueue() writes
 * them inside the caller's transaction (a fan-out in one multi-row insert) and wakes the engine once
 * it has committed.
 *
 * The engine works in ticks (setImmediate after a wake): one transaction records every attempt that
 * ended since the last tick (HTTP log rows, then the jobs' outcomes in one statement, destination
 * health, attempt counts) and claims due jobs. A commit costs more than the statements in it, so
 * under load one tick carries many jobs. A claim is a lease (this node's id and a lease end, renewed
 * while the node lives), one statement per destination, so nothing about a claimed job lives only in
 * this process: a job whose node died is claimable again once its lease ends (same delivery id), and
 * a restarted node takes its own leases back at start. Per-destination limits count every node's
 * leases; the global limit counts this node's sends. A tick claims up to twice the free send slots:
 * when a send ends, the next claimed job goes out at once, without waiting for the write connection
 * (where the tick may queue behind changes being recorded). Destinations are looked at only when
 * they may have due work (the ready set: a job was added or unblocked, a retry or pause came due, a
 * lease ended); claiming goes round-robin over them, so a destination with a deep backlog cannot
 * starve the others. At-least-once: a crash between sending and recording means the job is sent
 * again, with the same delivery id.
 */
export class DeliveryEngine {
  readonly options: EngineOptions;
  private readonly jobs: JobStore;
  private readonly destinations: DestinationStore;
  private readonly handlers = new Map<string, DeliveryHandler>();
  private kindsJson = "[]";
  private readonly inFlight = new Map<number, Promise<void>>();
  /** Claimed (leased) and waiting for a free send slot, in claim order. */
  private claimed: Job[] = [];
  private finished: Finished[] = [];
  /** Destinations that may have due jobs, in round-robin order (served ones move to the back). */
  private readonly ready = new Set<string>();
  /** Destinations with nothing due now, and when their next job comes due. */
  private readonly dueLater = new Map<string, number>();
  private allReady = true;
  private pauseEndAt: number | null = null;
  private state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";
  /** The tick in progress: ticks never overlap (a wake during one asks for another after it). */
  private ticking: Promise<void> | null = null;
  private tickAgain = false;
  private tickQueued = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When leases were last renewed and expired ones released. */
  private lastLeaseChores = 0;
  /** When every eligible destination was last looked at (the idle check, the safety net under wake-ups). */
  private lastFullLook = 0;
  private stopListening = () => {};
  private readonly shutdown = new AbortController();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    options: Partial<EngineOptions> = {},
  ) {
    this.options = { ...DEFAULT_ENGINE_OPTIONS, ...options };
    this.jobs = new JobStore();
    this.destinations = new DestinationStore();
  }

  /** Jobs this process is sending now (a node's heartbeat reports it). */
  get sending(): number {
    return this.inFlight.size;
  }

  register(kind: string, handler: DeliveryHandler): void {
    if (this.handlers.has(kind)) throw new Error(`a delivery handler for "${kind}" is already registered`);
    this.handlers.set(kind, handler);
    this.kindsJson = JSON.stringify([...this.handlers.keys()]);
    this.wake();
  }

  /**
   * Queues a job in the caller's transaction. The engine looks at the job once the transaction has
   * committed; a rolled back transaction leaves nothing to find.
   */
  async enqueue(tx: Tx, input: EnqueueInput): Promise<{ id: number; deliveryId: string }> {
    return (await this.enqueueMany(tx, [input]))[0]!;
  }

  /**
   * Queues several jobs (a fan-out) in one multi-row insert, in the caller's transaction; results in
   * the order given. Inputs come from our own modules, typed, so they are not validated again here.
   */
  async enqueueMany(tx: Tx, inputs: readonly EnqueueInput[]): Promise<{ id: number; deliveryId: string }[]> {
    if (!inputs.length) return [];
    const now = Date.now();
    const rows: NewJobRow[] = inputs.map((job) => ({
      kind: job.kind,
      destination: job.destination,
      orderingKey: job.orderingKey ?? null,
      payload: job.payload ?? null,
      maxAttempts: job.maxAttempts ?? this.handlers.get(job.kind)?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      runAt: job.runAt?.getTime() ?? now,
      // Time-ordered (v7): the delivery id indexes grow at their end instead of at random pages.
      deliveryId: job.deliveryId ?? Bun.randomUUIDv7(),
      redeliveryOf: null,
    }));
    const { ids, blockedKeys } = await this.jobs.insertMany(tx, rows, now);
    for (const destination of new Set(rows.map((r) => r.destination))) this.wakeAtCommit(tx, destination);
    if (blockedKeys.length && dialectOf(tx).transactionsInterleave)
      tx.afterCommit(() => void this.unblockHeads(blockedKeys));
    return rows.map((r, i) => ({ id: ids[i]!, deliveryId: r.deliveryId }));
  }

  /**
   * Looks again at ordering keys a committed insert blocked (see JobStore.unblockHead), one short
   * transaction each: each waits at most for one record in progress, holding nothing else.
   */
  private async unblockHeads(keys: readonly string[]): Promise<void> {
    try {
      for (const key of keys) await this.db.transaction((tx) => this.jobs.unblockHead(tx, key));
    } catch (err) {
      this.log.error("unblocking the next job of an ordering key failed", { error: String(err) });
    }
    this.wake();
  }

  /**
   * A new job copying kind, destination, ordering key and payload, with fresh attempts. It keeps the
   * delivery id: it is the same logical delivery, so a receiver that already processed it can
   * recognise the duplicate, and one that lost it processes it (GitHub's redelivery does the same).
   */
  async redeliver(jobId: number): Promise<{ id: number; deliveryId: string } | null> {
    const original = await this.jobs.get(this.db, jobId);
    if (!original) return null;
    const id = await this.db.transaction((tx) => this.copyJob(tx, original, Date.now()));
    return { id, deliveryId: original.deliveryId };
  }

  /**
   * Sends some of a destination's jobs again, as redeliver() does each, in one transaction (ids
   * of other destinations are skipped). Returns the new jobs' ids, in order.
   */
  async redeliverMany(destination: string, jobIds: readonly number[]): Promise<number[]> {
    const now = Date.now();
    const ids = await this.db.transaction(async (tx) => {
      const copies: number[] = [];
      for (const id of [...new Set(jobIds)].sort((a, b) => a - b)) {
        const job = await this.jobs.get(tx, id);
        if (job?.destination === destination) copies.push(await this.copyJob(tx, job, now));
      }
      return copies;
    });
    return ids;
  }

  /** How many failed deliveries recoverFailed() would send again now. */
  async countFailedSince(destination: string, kind: string, since: Date): Promise<number> {
    return (await failedDeliveryJobIds(this.db, destination, kind, since)).length;
  }

  /**
   * Svix's "recover": every failed delivery of a destination since a time is sent again (its newest
   * job copied, as redeliver() does, same delivery id). One transaction, so the new jobs' ids run
   * from `firstId` to `lastId` and progressOf() follows them.
   */
  async recoverFailed(
    destination: string,
    kind: string,
    since: Date,
  ): Promise<{ count: number; firstId: number | null; lastId: number | null }> {
    const now = Date.now();
    const ids = await this.db.transaction(async (tx) => {
      const copies: number[] = [];
      for (const id of await failedDeliveryJobIds(tx, destination, kind, since))
        copies.push(await this.copyJob(tx, (await this.jobs.get(tx, id))!, now));
      return copies;
    });
    return { count: ids.length, firstId: ids[0] ?? null, lastId: ids.at(-1) ?? null };
  }

  /** A destination's attempts per time bucket since a time (the attempts chart). */
  async attemptsOverTime(destination: string, since: Date, bucketMs: number): Promise<AttemptBucket[]> {
    return attemptsOverTime(this.db, destination, since, bucketMs);
  }

  /** Inside the caller's transaction; wakes this node and the others at commit. */
  private copyJob(tx: Tx, original: Job, now: number): Promise<number> {
    this.wakeAtCommit(tx, original.destination);
    return this.jobs.insert(
      tx,
      {
        kind: original.kind,
        destination: original.destination,
        orderingKey: original.orderingKey,
        payload: original.payload,
        maxAttempts: original.maxAttempts,
        runAt: now,
        deliveryId: original.deliveryId,
        redeliveryOf: original.id,
      },
      now,
    );
  }

  /** Cancels a pending job (a running one is already being sent). */
  async cancel(jobId: number): Promise<boolean> {
    const done = await this.db.transaction(async (tx) => {
      const cancelled = await this.jobs.cancel(tx, jobId, Date.now());
      // Cancelling the head of an ordering key unblocks the next job.
      if (cancelled) this.wakeAtCommit(tx, cancelled.destination);
      return cancelled;
    });
    return done !== null;
  }

  /** Sets concurrency and strict FIFO per ordering key, in the transaction saving the destination's settings. */
  async configureDestination(tx: Tx, key: string, options: DestinationOptions): Promise<void> {
    await this.destinations.configure(tx, key, options);
    this.wakeAtCommit(tx, key);
  }

  /** Clears disabled and paused states and health counters; held jobs are sent at once. */
  async enableDestination(key: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.destinations.enable(tx, key, Date.now());
      this.wakeAtCommit(tx, key);
    });
    this.log.info("delivery destination enabled", { destination: key });
  }

  async disableDestination(key: string, reason: string): Promise<void> {
    await this.db.transaction(async (tx) => this.destinations.disable(tx, key, reason, Date.now()));
  }

  async pauseDestination(key: string, until: Date | null, reason: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.destinations.pause(tx, key, until?.getTime() ?? null, reason, Date.now());
      // Every node's timer must learn the pause's end.
      tx.notifyNodes("deliveries", key);
    });
    this.wake();
  }

  async getDestination(key: string): Promise<Destination | undefined> {
    return await getDestination(this.db, key);
  }

  async listDestinations(): Promise<Destination[]> {
    return await listDestinations(this.db);
  }

  /** Prepared: feature modules ask it on their paths (a CRM link's create call). */
  async getJob(id: number): Promise<Job | undefined> {
    return (await this.jobs.get(this.db, id)) ?? undefined;
  }

  /** Jobs of a destination still to send or on the wire. */
  async countActive(destination: string): Promise<number> {
    return await this.jobs.countActive(this.db, destination);
  }

  /**
   * Whether a pending job of this kind waits under the ordering key (one whose payload passes
   * `match`, if given), in the caller's transaction: its own new jobs count.
   */
  async hasPending(
    tx: Tx,
    orderingKey: string,
    kind: string,
    match: (payload: unknown) => boolean = () => true,
  ): Promise<boolean> {
    const pending = await this.jobs.pendingOfKey(tx, orderingKey, kind);
    // On PostgreSQL they stay locked until the caller commits, and a claim meanwhile passes over them.
    if (dialectOf(tx).transactionsInterleave)
      for (const destination of new Set(pending.map((j) => j.destination))) this.wakeAtCommit(tx, destination);
    return pending.some((j) => match(j.payload));
  }

  /** The newest job's id (0 without any). */
  async lastJobId(db: DbOrTx = this.db): Promise<number> {
    return await this.jobs.lastId(db);
  }

  /** The newest redelivered copy of a job, or null. */
  async latestRedelivery(jobId: number): Promise<number | null> {
    return await latestRedelivery(this.db, jobId);
  }

  /** A run of one destination's jobs (ids first to last): how many, finished, failed. */
  async progressOf(destination: string, firstId: number, lastId: number): Promise<JobCounts> {
    return await progressOf(this.db, destination, firstId, lastId);
  }

  /** Jobs of a kind created since a time, by status. */
  async countByStatus(kind: string, since: Date): Promise<Partial<Record<JobStatus, number>>> {
    return await countByStatus(this.db, kind, since);
  }

  /** The smallest value of a numeric payload field among a kind's active jobs (null without any). */
  async minActivePayloadField(kind: string, field: string, db: DbOrTx = this.db): Promise<number | null> {
    return await minActivePayloadField(db, kind, field);
  }

  async destinationHealth(key: string): Promise<DestinationHealth> {
    return await destinationHealth(this.db, key);
  }

  async listAttemptsWithJobs(filter: AttemptFilter): Promise<AttemptWithJob[]> {
    return await listAttemptsWithJobs(this.db, filter);
  }

  async listJobs(filter?: JobFilter): Promise<Job[]> {
    return await listJobs(this.db, filter);
  }

  async listHttpLog(filter?: HttpLogFilter): Promise<HttpLogEntry[]> {
    return await listHttpLog(this.db, filter);
  }

  async getHttpLogEntry(id: number): Promise<HttpLogEntry | undefined> {
    return await getHttpLogEntry(this.db, id);
  }

  /** HTTP log by age and size, old finished jobs and old attempt counts (cron calls this). */
  async prune(now: number = Date.now()): Promise<{ logEntries: number; jobs: number }> {
    const logEntries = (await pruneHttpLog(this.db, this.options.logRetention, now)).deleted;
    const jobs = await pruneFinishedJobs(this.db, this.options.finishedJobRetentionMs, now);
    await this.db.transaction((tx) => pruneAttemptCounts(tx, now));
    return { logEntries, jobs };
  }

  /** A facility's successes and failures in the last hour and day, and per hour (see stats.ts for costs). */
  async facilityStats(facility: string, now: number = Date.now()): Promise<FacilityStats> {
    return facilityStats(this.db, facility, now);
  }

  /** Queue depth and the oldest due job. */
  async queueStats(now: number = Date.now()): Promise<QueueStats> {
    return queueStats(this.db, now);
  }

  /** Destinations failing, paused or disabled now, worst first. */
  async troubledDestinations(limit: number, now: number = Date.now()): Promise<TroubledDestination[]> {
    return troubledDestinations(this.db, now, limit);
  }

  async countJobs(status: JobStatus): Promise<number> {
    return await this.jobs.count(this.db, status);
  }

  /** Takes back the jobs this node leased before it stopped (or crashed), then starts claiming. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error("the delivery engine starts once");
    this.state = "starting";
    const now = Date.now();
    const recovered = await this.db.transaction(async (tx) => this.jobs.releaseOwn(tx, this.options.nodeId, now));
    if (recovered) this.log.warn("delivery jobs recovered after an unclean stop", { recovered });
    this.state = "running";
    this.lastLeaseChores = now;
    this.allReady = true;
    // Other nodes' new jobs (a node's own are woken by its after-commit hooks).
    this.stopListening = this.db.onNodesNotify("deliveries", (keys) => {
      if (keys === "all") this.wake();
      else for (const key of keys) this.wake(key);
    });
    void this.tick();
  }

  /**
   * Stops claiming and waits up to `deadlineMs` for sends in flight; claimed jobs not yet sent go
   * back to the queue. Jobs still on the wire then keep their lease: this node takes them back at
   * its next start, any other node once the lease ends.
   */
  async stop(deadlineMs = 5_000): Promise<void> {
    if (this.state === "stopped" || this.state === "stopping") return;
    this.state = "stopping";
    this.stopListening();
    clearTimeout(this.timer);
    const unsent = this.claimed.map((j) => j.id);
    const unsentDestinations = new Set(this.claimed.map((j) => j.destination));
    this.claimed = [];
    let timeout: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(this.inFlight.values()),
      new Promise((r) => (timeout = setTimeout(r, deadlineMs))),
    ]);
    clearTimeout(timeout);
    await this.ticking;
    await this.recordThenClaim(this.takeFinished(), async (tx) => {
      await this.jobs.release(tx, this.options.nodeId, unsent, Date.now());
      // The other nodes may send them now.
      for (const key of unsentDestinations) tx.notifyNodes("deliveries", key);
      return [];
    });
    this.state = "stopped";
    // Abort what is still on the wire; their results are no longer recorded (the database closes).
    this.shutdown.abort();
  }

  /** Wakes this node once the transaction has committed, and the other nodes at its commit. */
  private wakeAtCommit(tx: Tx, destination: string): void {
    tx.afterCommit(() => this.wake(destination));
    tx.notifyNodes("deliveries", destination);
  }

  /**
   * Asks for a tick; with a destination, that destination may have due jobs now. setImmediate
   * rather than a microtask: everything that ends in this turn of the event loop shares the tick's
   * transaction.
   */
  wake(destination?: string): void {
    if (destination === undefined) this.allReady = true;
    else this.ready.add(destination);
    if (this.tickQueued || this.state !== "running") return;
    this.tickQueued = true;
    setImmediate(() => {
      this.tickQueued = false;
      void this.tick();
    });
  }

  private async tick(): Promise<void> {
    if (this.state !== "running") return;
    if (this.ticking) {
      // One tick at a time: another follows the current one.
      this.tickAgain = true;
      return;
    }
    clearTimeout(this.timer);
    const ticking = this.recordThenClaim(this.takeFinished(), (tx) => this.claimDue(tx, Date.now()));
    this.ticking = ticking.then(() => undefined);
    const claimed = await ticking;
    this.ticking = null;
    if (this.tickAgain) {
      this.tickAgain = false;
      setImmediate(() => void this.tick());
    }
    if (this.state !== "running") return;
    this.claimed.push(...claimed);
    this.launchClaimed();
    const now = Date.now();
    let nextAt = Math.min(this.lastFullLook + this.options.idleCheckMs, this.lastLeaseChores + this.leaseChoresEvery());
    for (const at of this.dueLater.values()) nextAt = Math.min(nextAt, at);
    if (this.pauseEndAt !== null) nextAt = Math.min(nextAt, this.pauseEndAt);
    this.timer = setTimeout(() => void this.tick(), Math.max(0, nextAt - now));
  }

  /** Leases are renewed (and expired ones released) every third of a lease. */
  private leaseChoresEvery(): number {
    return Math.max(1, Math.floor(this.options.leaseMs / 3));
  }

  /**
   * One transaction: the ended sends recorded, then (in a savepoint, so a
   * failing pass rolls back alone) the claim pass.
   */
  private async recordThenClaim(batch: Finished[], claim: (tx: Tx) => Promise<Job[]>): Promise<Job[]> {
    try {
      return await this.db.transaction(async (tx) => {
        await this.record(tx, batch);
        try {
          return await tx.savepoint(claim);
        } catch (err) {
          this.log.error("delivery claim pass failed", { error: String(err) });
          // The wake-ups it took: the next tick looks at every destination.
          this.allReady = true;
          return [];
        }
      });
    } catch (err) {
      // Nothing of the batch was stored: its jobs stay leased and are sent again once the lease expires.
      this.log.error("recording delivery results failed", { error: String(err), jobs: batch.length });
      this.allReady = true;
      return [];
    }
  }

  /** Renews this node's leases and releases every node's expired ones (in the claim's transaction). */
  private async leaseChores(tx: Tx, now: number): Promise<void> {
    this.lastLeaseChores = now;
    const held = [...this.inFlight.keys(), ...this.claimed.map((j) => j.id), ...this.finished.map((f) => f.job.id)];
    await this.jobs.renew(tx, this.options.nodeId, held, now + this.options.leaseMs);
    const released = await this.jobs.releaseExpired(tx, now);
    if (released) {
      this.log.warn("delivery jobs with expired leases released", { released });
      this.allReady = true;
    }
  }

  /**
   * Claims due jobs, round-robin over the destinations that may have some: up to twice the free send
   * slots (the rest wait in `claimed` for a slot), within each destination's limit of leases.
   */
  private async claimDue(tx: Tx, now: number): Promise<Job[]> {
    if (now - this.lastLeaseChores >= this.leaseChoresEvery()) await this.leaseChores(tx, now);
    if (now - this.lastFullLook >= this.options.idleCheckMs) this.allReady = true;
    if (this.pauseEndAt !== null && this.pauseEndAt <= now) this.allReady = true;
    for (const [key, at] of this.dueLater) {
      if (at > now) continue;
      this.dueLater.delete(key);
      this.ready.add(key);
    }
    // The wake-ups this pass serves are taken before it reads: one arriving while it reads (on PostgreSQL,
    // for a commit its reads may not see, such as an enable or a new destination's first job) stays
    // for the next tick instead of being spent on what this one read.
    const lookAtAll = this.allReady;
    this.allReady = false;
    const round = new Set(this.ready);
    this.ready.clear();
    const claimable = await this.destinations.claimable(tx, now);
    const eligible = new Map(claimable.eligible.map((d) => [d.key, d.concurrency]));
    if (lookAtAll) {
      this.lastFullLook = now;
      this.dueLater.clear();
      for (const key of eligible.keys()) round.add(key);
    }
    this.pauseEndAt = claimable.nextPauseEnd;
    // An even share of the free slots for each destination still to visit in this round, in order.
    const asked: { destination: string; wanted: number; limit: number }[] = [];
    let free = 2 * this.options.globalConcurrency - this.inFlight.size - this.claimed.length;
    const visit = [...round];
    let visited = 0;
    for (const key of visit) {
      if (free <= 0) break;
      visited++;
      const unvisited = visit.length - visited;
      // Disabled or paused: enabling it, or the pause's end, makes it ready again.
      if (!eligible.has(key)) continue;
      const wanted = Math.min(free, Math.ceil(free / (unvisited + 1)));
      asked.push({ destination: key, wanted, limit: eligible.get(key) ?? this.options.destinationConcurrency });
      free -= wanted;
    }
    // Not reached for want of free slots: first in the next round.
    const notReached = visit.slice(visited);
    if (!asked.length) {
      for (const key of notReached) this.ready.add(key);
      return [];
    }
    const claimed = await this.jobs.claimMany(tx, {
      destinations: asked,
      kindsJson: this.kindsJson,
      now,
      leaseUntil: now + this.options.leaseMs,
      owner: this.options.nodeId,
    });
    const out: Job[] = [];
    for (const { destination: key, wanted } of asked) {
      const jobs = claimed.get(key);
      if (!jobs) {
        // Another node is claiming for it (or recording its results): look again shortly.
        this.noteDueLater(key, now + BUSY_DESTINATION_RETRY_MS);
        continue;
      }
      out.push(...jobs);
      // All it was offered: more may wait, to the back of the round. Fewer: nothing else due now, or
      // its lease limit is reached (one of its sends ending wakes it). A send that ended during this
      // tick woke it, but still holds its lease until the next tick records it: that tick serves it
      // again (else, on PostgreSQL where a tick yields at every statement, it waited for the idle check).
      if (jobs.length === wanted || this.finished.some((f) => f.job.destination === key)) this.ready.add(key);
      else if (!jobs.length) this.noteDueLater(key, await this.jobs.nextDueAt(tx, key, now));
    }
    if (notReached.length) {
      const woken = [...this.ready];
      this.ready.clear();
      for (const key of [...notReached, ...woken]) this.ready.add(key);
    }
    return out;
  }

  private noteDueLater(key: string, at: number | null): void {
    if (at === null) return;
    const known = this.dueLater.get(key);
    if (known === undefined || at < known) this.dueLater.set(key, at);
  }

  /** Sends claimed jobs while send slots are free. */
  private launchClaimed(): void {
    while (this.inFlight.size < this.options.globalConcurrency && this.claimed.length)
      this.launch(this.claimed.shift()!);
  }

  private launch(job: Job): void {
    const run = this.attempt(job)
      .catch((err) => this.log.error("delivery attempt failed unexpectedly", { job_id: job.id, error: String(err) }))
      .finally(() => {
        this.inFlight.delete(job.id);
        if (this.state === "running") this.launchClaimed();
        this.wake(job.destination);
      });
    this.inFlight.set(job.id, run);
  }

  /** Sends one job; the outcome waits in `finished` for the next tick to record it. */
  private async attempt(job: Job): Promise<void> {
    const handler = this.handlers.get(job.kind)!;
    let attempt: Attempt = null;
    let outcome: Outcome;
    try {
      const raw = await handler.prepare(job);
      if (raw === null) outcome = { kind: "success" };
      else {
        const parsed = handler.validRequests
          ? { success: true as const, data: withSpecDefaults(raw) }
          : httpRequestSpecSchema.safeParse(raw);
        if (!parsed.success)
          outcome = {
            kind: "fail",
            error: `invalid request: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`,
          };
        else {
          const headers = requestHeaders(parsed.data);
          const result = await sendHttp(parsed.data, this.shutdown.signal, headers);
          attempt = { spec: parsed.data, headers, result };
          const fallback = defaultOutcome(result);
          outcome = (await handler.classify?.(job, result, fallback)) ?? fallback;
        }
      }
    } catch (err) {
      // A handler bug or a passing problem (settings unreadable): retried like any failure.
      outcome = {
        kind: "retry",
        error: `the ${job.kind} handler failed: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    if (this.state === "stopped") return; // Past the shutdown deadline: the lease is recovered at next start.
    this.finished.push({ job, handler, outcome, attempt, at: Date.now() });
  }

  private takeFinished(): Finished[] {
    const batch = this.finished;
    this.finished = [];
    return batch;
  }

  /**
   * Records ended sends in the tick's transaction: the onSuccess hooks (each in a savepoint: if one
   * fails, that job alone is recorded as a retry instead), the HTTP-log rows of the attempts (one
   * multi-row insert), destination health, the attempt counts, then every job's outcome in one statement. Apart from the hooks, this
   * can only fail with the database itself, and then the whole tick rolls back.
   */
  private async record(tx: Tx, batch: Finished[]): Promise<void> {
    if (!batch.length) return;
    const outcomes: JobOutcome[] = [];
    const tally = new AttemptTally();
    const logged: HttpAttempt[] = [];
    /** Successes not yet written, per destination (one statement for all at the end). */
    const healthy = new Map<string, number>();
    for (const f of batch) {
      if (f.outcome.kind === "success" && f.handler.onSuccess) {
        try {
          await tx.savepoint((sp) => f.handler.onSuccess!(sp, f.job, f.attempt?.result ?? null));
        } catch (err) {
          // The send happened, but its effect was not stored.
          const error = `storing the result failed: ${err instanceof Error ? err.message : String(err)}`;
          f.outcome = { kind: "retry", error };
        }
      }
      const { job, handler, outcome, attempt, at } = f;
      if (attempt) logged.push(this.logEntry(job, handler, attempt, at));
      tally.add(handler.facility, attemptVerdict(outcome, attempt !== null), at);
      const httpStatus = attempt?.result.status ?? null;
      const done = (status: JobOutcome["status"], error: string | null, addFailure: boolean, runAt: number | null) =>
        outcomes.push({
          id: job.id,
          attempts: job.attempts,
          status,
          runAt,
          error,
          httpStatus,
          addFailure,
          at,
          orderingKey: job.orderingKey,
        });
      if (outcome.kind === "success") {
        healthy.set(job.destination, at);
        done("succeeded", null, false, null);
        // The next job of its ordering key may be unblocked now.
        if (job.orderingKey) this.ready.add(job.destination);
        continue;
      }
      // A failure after a success of the same destination in this batch: the success first.
      const success = healthy.get(job.destination);
      if (success !== undefined) {
        healthy.delete(job.destination);
        await this.destinations.recordSuccesses(tx, new Map([[job.destination, success]]));
      }
      switch (outcome.kind) {
        case "fail":
          done("failed", outcome.error, true, null);
          await this.recordFailure(tx, job, outcome.error, at);
          if (job.orderingKey) this.ready.add(job.destination);
          break;
        case "retry": {
          const counts = outcome.countsAsFailure !== false;
          const failures = job.failedAttempts + (counts ? 1 : 0);
          if (counts) await this.recordFailure(tx, job, outcome.error, at);
          if (counts && failures >= job.maxAttempts) {
            done("failed", outcome.error, true, null);
            if (job.orderingKey) this.ready.add(job.destination);
          } else {
            const schedule =
              typeof handler.retrySchedule === "function"
                ? await handler.retrySchedule(job)
                : (handler.retrySchedule ?? DEFAULT_RETRY_SCHEDULE);
            const runAt = at + retryDelay(outcome, counts ? failures : job.attempts, schedule);
            done("pending", outcome.error, counts, runAt);
            this.noteDueLater(job.destination, runAt);
          }
          break;
        }
        case "disable":
          // The job waits, unattempted, with the destination's other jobs until an admin re-enables it.
          await this.destinations.disable(tx, job.destination, outcome.reason, at);
          done("pending", outcome.reason, false, at);
          this.log.warn("delivery destination disabled", { destination: job.destination, reason: outcome.reason });
          break;
        case "pause":
          await this.destinations.pause(tx, job.destination, outcome.untilMs ?? null, outcome.reason, at);
          done("pending", outcome.reason, false, outcome.untilMs ?? at);
          this.noteDueLater(job.destination, outcome.untilMs ?? at);
          this.log.warn("delivery destination paused", { destination: job.destination, reason: outcome.reason });
          break;
      }
    }
    await recordHttpAttempts(tx, logged);
    await this.destinations.recordSuccesses(tx, healthy);
    await tally.write(tx);
    await this.jobs.record(tx, outcomes, this.options.nodeId);
  }

  private logEntry(
    job: Job,
    handler: DeliveryHandler,
    { spec, headers, result }: NonNullable<Attempt>,
    at: number,
  ): HttpAttempt {
    return {
      facility: handler.facility,
      method: spec.method,
      url: spec.url,
      requestHeaders: headers,
      requestBody: spec.body ?? null,
      result,
      attempt: job.attempts,
      deliveryId: job.deliveryId,
      jobId: job.id,
      destination: job.destination,
      secrets: secretsOf(spec),
      at: new Date(at),
    };
  }

  private async recordFailure(tx: Tx, job: Job, error: string, now: number): Promise<void> {
    const { disabled } = await this.destinations.recordFailure(
      tx,
      job.destination,
      error,
      now,
      this.options.autoDisableAfterMs,
    );
    if (disabled)
      this.log.warn("delivery destination disabled after failing too long", { destination: job.destination });
  }
}
