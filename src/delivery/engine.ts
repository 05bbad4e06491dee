import type { Db, Tx } from "../db/client";
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
  private state: "new" | "running" | "stopping" | "stopped" = "new";
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
    this.jobs = new JobStore(db.$client);
    this.destinations = new DestinationStore(db.$client);
  }

  register(kind: string, handler: DeliveryHandler): void {
    if (this.handlers.has(kind)) throw new Error(`a delivery handler for "${kind}" is already registered`);
    this.handlers.set(kind, handler);
    this.kindsJson = JSON.stringify([...this.handlers.keys()]);
    this.wake();
  }

  /**
   * Queues a job in the caller's open transaction: call it inside db.transaction (the engine's
   * statements run on the one write connection, so they join whatever transaction is open on it).
   * The engine looks at the job in its next tick, which runs after the synchronous transaction has
   * committed; a rolled back transaction leaves nothing to find.
   */
  enqueue(input: EnqueueInput): { id: number; deliveryId: string } {
    const job = enqueueInputSchema.parse(input);
    const now = Date.now();
    // Time-ordered (v7): the delivery id indexes grow at their end instead of at random pages.
    const deliveryId = job.deliveryId ?? Bun.randomUUIDv7();
    const id = this.jobs.insert(
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
    this.wake(job.destination);
    return { id, deliveryId };
  }

  /**
   * A new job copying kind, destination, ordering key and payload, with fresh attempts. It keeps the
   * delivery id: it is the same logical delivery, so a receiver that already processed it can
   * recognise the duplicate, and one that lost it processes it (GitHub's redelivery does the same).
   */
  redeliver(jobId: number): { id: number; deliveryId: string } | null {
    const original = this.jobs.get(jobId);
    if (!original) return null;
    const id = this.db.transaction(() => this.copyJob(original, Date.now()));
    this.wake(original.destination);
    return { id, deliveryId: original.deliveryId };
  }

  /**
   * Sends some of a destination's jobs again, as redeliver() does each, in one transaction (ids
   * of other destinations are skipped). Returns the new jobs' ids, in order.
   */
  async redeliverMany(destination: string, jobIds: readonly number[]): Promise<number[]> {
    const now = Date.now();
    const ids = this.db.transaction(() =>
      [...new Set(jobIds)]
        .sort((a, b) => a - b)
        .map((id) => this.jobs.get(id))
        .filter((job): job is Job => job?.destination === destination)
        .map((job) => this.copyJob(job, now)),
    );
    if (ids.length) this.wake(destination);
    return ids;
  }

  /** How many failed deliveries recoverFailed() would send again now. */
  async countFailedSince(destination: string, kind: string, since: Date): Promise<number> {
    return failedDeliveryJobIds(this.db, destination, kind, since).length;
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
    const ids = this.db.transaction(() =>
      failedDeliveryJobIds(this.db, destination, kind, since).map((id) => this.copyJob(this.jobs.get(id)!, now)),
    );
    if (ids.length) this.wake(destination);
    return { count: ids.length, firstId: ids[0] ?? null, lastId: ids.at(-1) ?? null };
  }

  /** A destination's attempts per time bucket since a time (the attempts chart). */
  async attemptsOverTime(destination: string, since: Date, bucketMs: number): Promise<AttemptBucket[]> {
    return attemptsOverTime(this.db, destination, since, bucketMs);
  }

  /** Inside the caller's transaction. */
  private copyJob(original: Job, now: number): number {
    return this.jobs.insert(
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
  cancel(jobId: number): boolean {
    const done = this.db.transaction(() => this.jobs.cancel(jobId, Date.now()));
    // Cancelling the head of an ordering key unblocks the next job.
    if (done) this.wake(done.destination);
    return done !== null;
  }

  /**
   * Sets concurrency and strict FIFO per ordering key; joins the transaction saving
   * the destination's settings, if one is open.
   */
  configureDestination(key: string, options: DestinationOptions): void {
    this.destinations.configure(key, options);
    this.wake(key);
  }

  /** Clears disabled and paused states and health counters; held jobs are sent at once. */
  enableDestination(key: string): void {
    this.db.transaction(() => this.destinations.enable(key, Date.now()));
    this.log.info("delivery destination enabled", { destination: key });
    this.wake(key);
  }

  disableDestination(key: string, reason: string): void {
    this.db.transaction(() => this.destinations.disable(key, reason, Date.now()));
  }

  pauseDestination(key: string, until: Date | null, reason: string): void {
    this.db.transaction(() => this.destinations.pause(key, until?.getTime() ?? null, reason, Date.now()));
    this.wake(); // The timer must learn the pause's end.
  }

  getDestination(key: string): Destination | undefined {
    return getDestination(this.db, key);
  }

  listDestinations(): Destination[] {
    return listDestinations(this.db);
  }

  /** Prepared: feature modules ask it on their paths (a CRM link's create call). */
  getJob(id: number): Job | undefined {
    return this.jobs.get(id) ?? undefined;
  }

  /** Jobs of a destination still to send or on the wire. */
  countActive(destination: string): number {
    return this.jobs.countActive(destination);
  }

  /** Whether a pending job of this kind waits under the ordering key (one whose payload passes `match`, if given). */
  hasPending(orderingKey: string, kind: string, match: (payload: unknown) => boolean = () => true): boolean {
    return this.jobs.pendingPayloads(orderingKey, kind).some(match);
  }

  /** The newest job's id (0 without any). */
  lastJobId(): number {
    return this.jobs.lastId();
  }

  /** The newest redelivered copy of a job, or null. */
  latestRedelivery(jobId: number): number | null {
    return latestRedelivery(this.db, jobId);
  }

  /** A run of one destination's jobs (ids first to last): how many, finished, failed. */
  progressOf(destination: string, firstId: number, lastId: number): JobCounts {
    return progressOf(this.db, destination, firstId, lastId);
  }

  /** Jobs of a kind created since a time, by status. */
  countByStatus(kind: string, since: Date): Partial<Record<JobStatus, number>> {
    return countByStatus(this.db, kind, since);
  }

  /** The smallest value of a numeric payload field among a kind's active jobs (null without any). */
  minActivePayloadField(kind: string, field: string): number | null {
    return minActivePayloadField(this.db, kind, field);
  }

  destinationHealth(key: string): DestinationHealth {
    return destinationHealth(this.db, key);
  }

  listAttemptsWithJobs(filter: AttemptFilter): AttemptWithJob[] {
    return listAttemptsWithJobs(this.db, filter);
  }

  listJobs(filter?: JobFilter): Job[] {
    return listJobs(this.db, filter);
  }

  listHttpLog(filter?: HttpLogFilter): HttpLogEntry[] {
    return listHttpLog(this.db, filter);
  }

  getHttpLogEntry(id: number): HttpLogEntry | undefined {
    return getHttpLogEntry(this.db, id);
  }

  /** HTTP log by age and size, old finished jobs and old attempt counts (cron calls this). */
  prune(now: number = Date.now()): { logEntries: number; jobs: number } {
    const logEntries = pruneHttpLog(this.db, this.options.logRetention, now).deleted;
    const jobs = pruneFinishedJobs(this.db, this.options.finishedJobRetentionMs, now);
    pruneAttemptCounts(this.db, now);
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

  countJobs(status: JobStatus): number {
    return this.jobs.count(status);
  }

  /** Recovers jobs a crashed process left running, then starts claiming. */
  start(): void {
    if (this.state !== "new") throw new Error("the delivery engine starts once");
    const recovered = this.jobs.recoverAllRunning(Date.now());
    if (recovered) this.log.warn("delivery jobs recovered after an unclean stop", { recovered });
    this.state = "running";
    this.lastLeaseSweep = Date.now();
    this.allReady = true;
    this.tick();
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
    this.recordThenClaim(this.takeFinished());
    this.state = "stopped";
    // Abort what is still on the wire; their results are no longer recorded (the database closes).
    this.shutdown.abort();
  }

  /**
   * Asks for a tick after the current synchronous work (and so its transaction) is done; with a
   * destination, that destination may have due jobs now. setImmediate rather than a microtask:
   * everything that ends in this turn of the event loop shares the tick's transaction.
   */
  wake(destination?: string): void {
    if (destination === undefined) this.allReady = true;
    else this.ready.add(destination);
    if (this.tickQueued || this.state !== "running") return;
    this.tickQueued = true;
    setImmediate(() => {
      this.tickQueued = false;
      this.tick();
    });
  }

  private tick(): void {
    if (this.state !== "running") return;
    clearTimeout(this.timer);
    const now = Date.now();
    for (const job of this.recordThenClaim(this.takeFinished(), () => this.claimDue(now))) this.launch(job);
    let nextAt = now + this.options.idleCheckMs;
    for (const at of this.dueLater.values()) nextAt = Math.min(nextAt, at);
    if (this.pauseEndAt !== null) nextAt = Math.min(nextAt, this.pauseEndAt);
    this.timer = setTimeout(() => this.tick(), Math.max(0, nextAt - Date.now()));
  }

  /**
   * One transaction: the ended sends recorded, then (in a savepoint, so a
   * failing pass rolls back alone) the claim pass.
   */
  private recordThenClaim(batch: Finished[], claim?: () => Job[]): Job[] {
    if (!batch.length && !claim) return [];
    try {
      return this.db.transaction((tx) => {
        this.record(tx, batch);
        if (!claim) return [];
        try {
          return tx.transaction(claim);
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
  private claimDue(now: number): Job[] {
    if (now - this.lastLeaseSweep >= this.options.idleCheckMs) {
      // The safety net: expired leases go back, and every destination is looked at again.
      this.lastLeaseSweep = now;
      const released = this.jobs.releaseExpired(now, new Set(this.inFlight.keys()));
      if (released) this.log.warn("delivery jobs with expired leases released", { released });
      this.allReady = true;
    }
    if (this.pauseEndAt !== null && this.pauseEndAt <= now) this.allReady = true;
    for (const [key, at] of this.dueLater) {
      if (at > now) continue;
      this.dueLater.delete(key);
      this.ready.add(key);
    }
    const eligible = new Map(this.destinations.eligible(now).map((d) => [d.key, d.concurrency]));
    if (this.allReady) {
      this.allReady = false;
      this.dueLater.clear();
      for (const key of eligible.keys()) this.ready.add(key);
    }
    this.pauseEndAt = this.destinations.nextPauseEnd(now);
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
      const due = this.jobs.dueJobs(key, now, this.kindsJson, wanted);
      for (const { id } of due) {
        const job = this.jobs.claim(id, now + this.options.leaseMs, now);
        if (job) {
          out.push(job);
          free--;
        }
      }
      this.ready.delete(key);
      if (due.length === wanted)
        this.ready.add(key); // More may wait: to the back of the round.
      else this.noteDueLater(key, this.jobs.nextDueAt(key, now));
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
          outcome = handler.classify?.(job, result, fallback) ?? fallback;
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
  private record(tx: Tx, batch: Finished[]): void {
    for (const f of batch) {
      if (f.outcome.kind !== "success" || !f.handler.onSuccess) {
        this.complete(tx, f);
        continue;
      }
      try {
        tx.transaction((sp) => this.complete(sp, f));
      } catch (err) {
        // The send happened, but its effect was not stored.
        const error = `storing the result failed: ${err instanceof Error ? err.message : String(err)}`;
        this.complete(tx, { ...f, outcome: { kind: "retry", error } });
      }
    }
  }

  /** Logs the attempt and applies its outcome to the job and the destination. */
  private complete(tx: Tx, { job, handler, outcome, attempt, at: now }: Finished): void {
    const httpStatus = attempt?.result.status ?? null;
    if (attempt) {
      recordHttpAttempt(tx, {
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
    if (verdict) countAttempt(tx, handler.facility, verdict, now);
    switch (outcome.kind) {
      case "success":
        this.finish(job, "succeeded", null, httpStatus, false, now);
        this.destinations.recordSuccess(job.destination, now);
        handler.onSuccess?.(tx, job, attempt?.result ?? null);
        break;
      case "fail":
        this.finish(job, "failed", outcome.error, httpStatus, true, now);
        this.recordFailure(job, outcome.error, now);
        break;
      case "retry": {
        const counts = outcome.countsAsFailure !== false;
        const failures = job.failedAttempts + (counts ? 1 : 0);
        if (counts) this.recordFailure(job, outcome.error, now);
        if (counts && failures >= job.maxAttempts) {
          this.finish(job, "failed", outcome.error, httpStatus, true, now);
        } else {
          const schedule =
            typeof handler.retrySchedule === "function"
              ? handler.retrySchedule(job)
              : (handler.retrySchedule ?? DEFAULT_RETRY_SCHEDULE);
          const delay = retryDelay(outcome, counts ? failures : job.attempts, schedule);
          this.reschedule(job, now + delay, outcome.error, httpStatus, counts, now);
        }
        break;
      }
      case "disable":
        // The job waits, unattempted, with the destination's other jobs until an admin re-enables it.
        this.destinations.disable(job.destination, outcome.reason, now);
        this.reschedule(job, now, outcome.reason, httpStatus, false, now);
        this.log.warn("delivery destination disabled", { destination: job.destination, reason: outcome.reason });
        break;
      case "pause":
        this.destinations.pause(job.destination, outcome.untilMs ?? null, outcome.reason, now);
        this.reschedule(job, outcome.untilMs ?? now, outcome.reason, httpStatus, false, now);
        this.log.warn("delivery destination paused", { destination: job.destination, reason: outcome.reason });
        break;
    }
  }

  private finish(
    job: Job,
    status: "succeeded" | "failed",
    error: string | null,
    httpStatus: number | null,
    addFailure: boolean,
    now: number,
  ): void {
    this.jobs.finish(job, status, error, httpStatus, addFailure, now);
    // The next job of its ordering key may be unblocked now.
    if (job.orderingKey) this.ready.add(job.destination);
  }

  private reschedule(
    job: Job,
    runAt: number,
    error: string | null,
    httpStatus: number | null,
    addFailure: boolean,
    now: number,
  ): void {
    this.jobs.reschedule(job, runAt, error, httpStatus, addFailure, now);
    this.noteDueLater(job.destination, runAt);
  }

  private recordFailure(job: Job, error: string, now: number): void {
    const { disabled } = this.destinations.recordFailure(job.destination, error, now, this.options.autoDisableAfterMs);
    if (disabled)
      this.log.warn("delivery destination disabled after failing too long", { destination: job.destination });
  }
}
