import type { Db, DbOrTx, Tx } from "../db/client";
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
  recordHttpAttempt,
  DEFAULT_LOG_RETENTION,
  type AttemptBucket,
  type AttemptFilter,
  type AttemptWithJob,
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
import { JobStore } from "./job-store";
import {
  attemptVerdict,
  countAttempt,
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
  enqueueInputSchema,
  httpRequestSpecSchema,
  type DeliveryHandler,
  type DestinationOptions,
  type EnqueueInput,
  type HttpResult,
  type Job,
  type Outcome,
  type ValidHttpRequestSpec,
} from "./types";

export type EngineOptions = {
  /** Sends in flight at once, over all destinations. */
  globalConcurrency: number;
  /** Sends in flight at once per destination, unless the destination sets its own. */
  destinationConcurrency: number;
  /** A destination failing this long without a single success is disabled. */
  autoDisableAfterMs: number;
  /**
   * How long a claimed job may run before another claim may take it (a safety net: leases of a
   * crashed process are recovered at start).
   */
  leaseMs: number;
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
  leaseMs: 10 * 60_000,
  idleCheckMs: 30_000,
  logRetention: DEFAULT_LOG_RETENTION,
  finishedJobRetentionMs: 30 * 86_400_000,
};

type Attempt = { spec: ValidHttpRequestSpec; result: HttpResult } | null;
/** A send that has ended and waits for the next tick to be recorded. */
type Finished = { job: Job; handler: DeliveryHandler; outcome: Outcome; attempt: Attempt; at: number };

/**
 * The one queue and retry loop for everything that leaves the box. Jobs are rows; enqueue() writes
 * one inside the caller's transaction and wakes the engine once it has committed.
 *
 * The engine works in ticks (setImmediate after a wake): one transaction records every attempt that
 * ended since the last tick (HTTP log, job outcome, destination health) and claims due jobs for the
 * free send slots. A commit costs more than the statements in it, so under load one tick carries
 * many jobs. Destinations are looked at only when they may have due work (the ready set: a job was
 * added or unblocked, a retry or pause came due, a slot freed up); claiming goes round-robin over
 * them, so a destination with a deep backlog cannot starve the others. At-least-once: a crash
 * between sending and recording means the job is sent again after restart, with the same delivery id.
 */
export class DeliveryEngine {
  readonly options: EngineOptions;
  private readonly jobs: JobStore;
  private readonly destinations: DestinationStore;
  private readonly handlers = new Map<string, DeliveryHandler>();
  private kindsJson = "[]";
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly perDestination = new Map<string, number>();
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
  private lastLeaseSweep = 0;
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
    const job = enqueueInputSchema.parse(input);
    const now = Date.now();
    // Time-ordered (v7): the delivery id indexes grow at their end instead of at random pages.
    const deliveryId = job.deliveryId ?? Bun.randomUUIDv7();
    const id = await this.jobs.insert(
      tx,
      {
        kind: job.kind,
        destination: job.destination,
        orderingKey: job.orderingKey ?? null,
        payload: JSON.stringify(job.payload ?? null),
        maxAttempts: job.maxAttempts ?? this.handlers.get(job.kind)?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        runAt: job.runAt?.getTime() ?? now,
        deliveryId,
        redeliveryOf: null,
      },
      now,
    );
    tx.afterCommit(() => this.wake(job.destination));
    return { id, deliveryId };
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
    this.wake(original.destination);
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
    if (ids.length) this.wake(destination);
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
    if (ids.length) this.wake(destination);
    return { count: ids.length, firstId: ids[0] ?? null, lastId: ids.at(-1) ?? null };
  }

  /** A destination's attempts per time bucket since a time (the attempts chart). */
  async attemptsOverTime(destination: string, since: Date, bucketMs: number): Promise<AttemptBucket[]> {
    return attemptsOverTime(this.db, destination, since, bucketMs);
  }

  /** Inside the caller's transaction. */
  private copyJob(tx: Tx, original: Job, now: number): Promise<number> {
    return this.jobs.insert(
      tx,
      {
        kind: original.kind,
        destination: original.destination,
        orderingKey: original.orderingKey,
        payload: JSON.stringify(original.payload),
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
    const done = await this.db.transaction(async (tx) => this.jobs.cancel(tx, jobId, Date.now()));
    // Cancelling the head of an ordering key unblocks the next job.
    if (done) this.wake(done.destination);
    return done !== null;
  }

  /** Sets concurrency and strict FIFO per ordering key, in the transaction saving the destination's settings. */
  async configureDestination(tx: Tx, key: string, options: DestinationOptions): Promise<void> {
    await this.destinations.configure(tx, key, options);
    tx.afterCommit(() => this.wake(key));
  }

  /** Clears disabled and paused states and health counters; held jobs are sent at once. */
  async enableDestination(key: string): Promise<void> {
    await this.db.transaction(async (tx) => this.destinations.enable(tx, key, Date.now()));
    this.log.info("delivery destination enabled", { destination: key });
    this.wake(key);
  }

  async disableDestination(key: string, reason: string): Promise<void> {
    await this.db.transaction(async (tx) => this.destinations.disable(tx, key, reason, Date.now()));
  }

  async pauseDestination(key: string, until: Date | null, reason: string): Promise<void> {
    await this.db.transaction(async (tx) =>
      this.destinations.pause(tx, key, until?.getTime() ?? null, reason, Date.now()),
    );
    this.wake(); // The timer must learn the pause's end.
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
   * `match`, if given). In a transaction, pass it: its own new jobs count.
   */
  async hasPending(
    db: DbOrTx,
    orderingKey: string,
    kind: string,
    match: (payload: unknown) => boolean = () => true,
  ): Promise<boolean> {
    return (await this.jobs.pendingPayloads(db, orderingKey, kind)).some(match);
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

  /** Recovers jobs a crashed process left running, then starts claiming. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error("the delivery engine starts once");
    this.state = "starting";
    const recovered = await this.db.transaction(async (tx) => this.jobs.recoverAllRunning(tx, Date.now()));
    if (recovered) this.log.warn("delivery jobs recovered after an unclean stop", { recovered });
    this.state = "running";
    this.lastLeaseSweep = Date.now();
    this.allReady = true;
    void this.tick();
  }

  /**
   * Stops claiming and waits up to `deadlineMs` for sends in flight; jobs still
   * leased then are recovered at the next start.
   */
  async stop(deadlineMs = 5_000): Promise<void> {
    if (this.state === "stopped" || this.state === "stopping") return;
    this.state = "stopping";
    clearTimeout(this.timer);
    let timeout: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(this.inFlight.values()),
      new Promise((r) => (timeout = setTimeout(r, deadlineMs))),
    ]);
    clearTimeout(timeout);
    await this.ticking;
    await this.recordThenClaim(this.takeFinished());
    this.state = "stopped";
    // Abort what is still on the wire; their results are no longer recorded (the database closes).
    this.shutdown.abort();
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
    const now = Date.now();
    const ticking = this.recordThenClaim(this.takeFinished(), (tx) => this.claimDue(tx, now));
    this.ticking = ticking.then(() => undefined);
    const claimed = await ticking;
    this.ticking = null;
    if (this.tickAgain) {
      this.tickAgain = false;
      setImmediate(() => void this.tick());
    }
    for (const job of claimed) this.launch(job);
    let nextAt = now + this.options.idleCheckMs;
    for (const at of this.dueLater.values()) nextAt = Math.min(nextAt, at);
    if (this.pauseEndAt !== null) nextAt = Math.min(nextAt, this.pauseEndAt);
    this.timer = setTimeout(() => void this.tick(), Math.max(0, nextAt - Date.now()));
  }

  /**
   * One transaction: the ended sends recorded, then (in a savepoint, so a
   * failing pass rolls back alone) the claim pass.
   */
  private async recordThenClaim(batch: Finished[], claim?: (tx: Tx) => Promise<Job[]>): Promise<Job[]> {
    if (!batch.length && !claim) return [];
    try {
      return await this.db.transaction(async (tx) => {
        await this.record(tx, batch);
        if (!claim) return [];
        try {
          return await tx.savepoint(claim);
        } catch (err) {
          this.log.error("delivery claim pass failed", { error: String(err) });
          return [];
        }
      });
    } catch (err) {
      // Nothing of the batch was stored: its jobs stay leased and are sent again once the lease expires.
      this.log.error("recording delivery results failed", { error: String(err), jobs: batch.length });
      return [];
    }
  }

  /** Claims due jobs for the free send slots, round-robin over the destinations that may have some. */
  private async claimDue(tx: Tx, now: number): Promise<Job[]> {
    if (now - this.lastLeaseSweep >= this.options.idleCheckMs) {
      // The safety net: expired leases go back, and every destination is looked at again.
      this.lastLeaseSweep = now;
      const released = await this.jobs.releaseExpired(tx, now, new Set(this.inFlight.keys()));
      if (released) this.log.warn("delivery jobs with expired leases released", { released });
      this.allReady = true;
    }
    if (this.pauseEndAt !== null && this.pauseEndAt <= now) this.allReady = true;
    for (const [key, at] of this.dueLater) {
      if (at > now) continue;
      this.dueLater.delete(key);
      this.ready.add(key);
    }
    const eligible = new Map((await this.destinations.eligible(tx, now)).map((d) => [d.key, d.concurrency]));
    if (this.allReady) {
      this.allReady = false;
      this.dueLater.clear();
      for (const key of eligible.keys()) this.ready.add(key);
    }
    this.pauseEndAt = await this.destinations.nextPauseEnd(tx, now);
    const out: Job[] = [];
    let free = this.options.globalConcurrency - this.inFlight.size;
    let unvisited = this.ready.size;
    for (const key of [...this.ready]) {
      if (free <= 0) break;
      unvisited--;
      if (!eligible.has(key)) {
        // Disabled or paused: enabling it, or the pause's end, makes it ready again.
        this.ready.delete(key);
        continue;
      }
      const limit = (eligible.get(key) ?? this.options.destinationConcurrency) - (this.perDestination.get(key) ?? 0);
      if (limit <= 0) continue; // Stays ready: a send of its own ending frees a slot and ticks.
      // An even share of the free slots for the destinations still to visit in this round.
      const wanted = Math.min(limit, free, Math.ceil(free / (unvisited + 1)));
      const due = await this.jobs.dueJobs(tx, key, now, this.kindsJson, wanted);
      for (const { id } of due) {
        const job = await this.jobs.claim(tx, id, now + this.options.leaseMs, now);
        if (job) {
          out.push(job);
          free--;
        }
      }
      this.ready.delete(key);
      if (due.length === wanted)
        this.ready.add(key); // More may wait: to the back of the round.
      else this.noteDueLater(key, await this.jobs.nextDueAt(tx, key, now));
    }
    return out;
  }

  private noteDueLater(key: string, at: number | null): void {
    if (at === null) return;
    const known = this.dueLater.get(key);
    if (known === undefined || at < known) this.dueLater.set(key, at);
  }

  private launch(job: Job): void {
    this.perDestination.set(job.destination, (this.perDestination.get(job.destination) ?? 0) + 1);
    const run = this.attempt(job)
      .catch((err) => this.log.error("delivery attempt failed unexpectedly", { job_id: job.id, error: String(err) }))
      .finally(() => {
        this.inFlight.delete(job.id);
        const n = (this.perDestination.get(job.destination) ?? 1) - 1;
        if (n > 0) this.perDestination.set(job.destination, n);
        else this.perDestination.delete(job.destination);
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
        const parsed = httpRequestSpecSchema.safeParse(raw);
        if (!parsed.success)
          outcome = {
            kind: "fail",
            error: `invalid request: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`,
          };
        else {
          const result = await sendHttp(parsed.data, this.shutdown.signal);
          attempt = { spec: parsed.data, result };
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
   * Records ended sends in the tick's transaction. A success with an onSuccess hook gets its own
   * savepoint: if the hook fails, that job alone rolls back and is recorded as a retry instead.
   * The rest can only fail with the database itself, and then the whole tick rolls back.
   */
  private async record(tx: Tx, batch: Finished[]): Promise<void> {
    for (const f of batch) {
      if (f.outcome.kind !== "success" || !f.handler.onSuccess) {
        await this.complete(tx, f);
        continue;
      }
      try {
        await tx.savepoint((sp) => this.complete(sp, f));
      } catch (err) {
        // The send happened, but its effect was not stored.
        const error = `storing the result failed: ${err instanceof Error ? err.message : String(err)}`;
        await this.complete(tx, { ...f, outcome: { kind: "retry", error } });
      }
    }
  }

  /** Logs the attempt and applies its outcome to the job and the destination. */
  private async complete(tx: Tx, { job, handler, outcome, attempt, at: now }: Finished): Promise<void> {
    const httpStatus = attempt?.result.status ?? null;
    if (attempt) {
      await recordHttpAttempt(tx, {
        facility: handler.facility,
        method: attempt.spec.method,
        url: attempt.spec.url,
        requestHeaders: requestHeaders(attempt.spec),
        requestBody: attempt.spec.body ?? null,
        result: attempt.result,
        attempt: job.attempts,
        deliveryId: job.deliveryId,
        jobId: job.id,
        destination: job.destination,
        secrets: secretsOf(attempt.spec),
        at: new Date(now),
      });
    }
    const verdict = attemptVerdict(outcome, attempt !== null);
    if (verdict) await countAttempt(tx, handler.facility, verdict, now);
    switch (outcome.kind) {
      case "success":
        await this.finish(tx, job, "succeeded", null, httpStatus, false, now);
        await this.destinations.recordSuccess(tx, job.destination, now);
        await handler.onSuccess?.(tx, job, attempt?.result ?? null);
        break;
      case "fail":
        await this.finish(tx, job, "failed", outcome.error, httpStatus, true, now);
        await this.recordFailure(tx, job, outcome.error, now);
        break;
      case "retry": {
        const counts = outcome.countsAsFailure !== false;
        const failures = job.failedAttempts + (counts ? 1 : 0);
        if (counts) await this.recordFailure(tx, job, outcome.error, now);
        if (counts && failures >= job.maxAttempts) {
          await this.finish(tx, job, "failed", outcome.error, httpStatus, true, now);
        } else {
          const schedule =
            typeof handler.retrySchedule === "function"
              ? await handler.retrySchedule(job)
              : (handler.retrySchedule ?? DEFAULT_RETRY_SCHEDULE);
          const delay = retryDelay(outcome, counts ? failures : job.attempts, schedule);
          await this.reschedule(tx, job, now + delay, outcome.error, httpStatus, counts, now);
        }
        break;
      }
      case "disable":
        // The job waits, unattempted, with the destination's other jobs until an admin re-enables it.
        await this.destinations.disable(tx, job.destination, outcome.reason, now);
        await this.reschedule(tx, job, now, outcome.reason, httpStatus, false, now);
        this.log.warn("delivery destination disabled", { destination: job.destination, reason: outcome.reason });
        break;
      case "pause":
        await this.destinations.pause(tx, job.destination, outcome.untilMs ?? null, outcome.reason, now);
        await this.reschedule(tx, job, outcome.untilMs ?? now, outcome.reason, httpStatus, false, now);
        this.log.warn("delivery destination paused", { destination: job.destination, reason: outcome.reason });
        break;
    }
  }

  private async finish(
    tx: Tx,
    job: Job,
    status: "succeeded" | "failed",
    error: string | null,
    httpStatus: number | null,
    addFailure: boolean,
    now: number,
  ): Promise<void> {
    await this.jobs.finish(tx, job, status, error, httpStatus, addFailure, now);
    // The next job of its ordering key may be unblocked now.
    if (job.orderingKey) this.ready.add(job.destination);
  }

  private async reschedule(
    tx: Tx,
    job: Job,
    runAt: number,
    error: string | null,
    httpStatus: number | null,
    addFailure: boolean,
    now: number,
  ): Promise<void> {
    await this.jobs.reschedule(tx, job, runAt, error, httpStatus, addFailure, now);
    this.noteDueLater(job.destination, runAt);
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
