import type { Db } from "../db/client";
import type { Logger } from "../log";
import { DestinationStore, getDestination, listDestinations, type Destination } from "./destinations";
import { getHttpLogEntry, listHttpLog, pruneHttpLog, recordHttpAttempt, DEFAULT_LOG_RETENTION, type HttpLogEntry, type HttpLogFilter, type LogRetention } from "./http-log";
import { requestHeaders, sendHttp } from "./http-sender";
import { getJob, listJobs, pruneFinishedJobs, type JobFilter } from "./job-queries";
import { JobStore, type DueJob } from "./job-store";
import type { JobStatus } from "./schema";
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_SCHEDULE, defaultOutcome, retryDelay } from "./retry-policy";
import {
  enqueueInputSchema,
  httpRequestSpecSchema,
  type DbOrTx,
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
  /** How long a claimed job may run before another claim may take it (a safety net: leases of a crashed process are recovered at start). */
  leaseMs: number;
  /** Even without wake-ups the queue is looked at this often (expired leases, clock changes). */
  idleCheckMs: number;
  logRetention: LogRetention;
  /** Finished jobs are kept this long for the UI, then pruned. */
  finishedJobRetentionMs: number;
};

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  globalConcurrency: 16,
  destinationConcurrency: 4,
  autoDisableAfterMs: 5 * 86_400_000,
  leaseMs: 10 * 60_000,
  idleCheckMs: 30_000,
  logRetention: DEFAULT_LOG_RETENTION,
  finishedJobRetentionMs: 30 * 86_400_000,
};

type Attempt = { spec: ValidHttpRequestSpec; result: HttpResult } | null;

/**
 * The one queue and retry loop for everything that leaves the box. Jobs are rows; enqueue() writes
 * one inside the caller's transaction and wakes the workers once it has committed. Each pass claims
 * due jobs per eligible destination within the global and per-destination limits; every attempt is
 * logged and its outcome applied in one transaction. At-least-once: a crash between sending and
 * recording means the job is sent again after restart, with the same delivery id.
 */
export class DeliveryEngine {
  readonly options: EngineOptions;
  private readonly jobs: JobStore;
  private readonly destinations: DestinationStore;
  private readonly handlers = new Map<string, DeliveryHandler>();
  private kindsJson = "[]";
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly perDestination = new Map<string, number>();
  private state: "new" | "running" | "stopping" | "stopped" = "new";
  private wakeQueued = false;
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
   * Queues a job in the caller's transaction (synchronous: call it inside db.transaction). Workers
   * are woken in a microtask, which runs after the synchronous transaction has committed; a rolled
   * back transaction leaves nothing to find.
   */
  enqueue(tx: DbOrTx, input: EnqueueInput): { id: number; deliveryId: string } {
    void tx; // The statements run on the shared connection, i.e. inside the caller's transaction.
    const job = enqueueInputSchema.parse(input);
    const now = Date.now();
    const deliveryId = job.deliveryId ?? crypto.randomUUID();
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
    this.wake();
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
    const id = this.db.transaction(() =>
      this.jobs.insert(
        {
          kind: original.kind,
          destination: original.destination,
          orderingKey: original.orderingKey,
          payload: JSON.stringify(original.payload),
          maxAttempts: original.maxAttempts,
          runAt: Date.now(),
          deliveryId: original.deliveryId,
          redeliveryOf: original.id,
        },
        Date.now(),
      ),
    );
    this.wake();
    return { id, deliveryId: original.deliveryId };
  }

  /** Cancels a pending job (a running one is already being sent). */
  cancel(jobId: number): boolean {
    const done = this.db.transaction(() => this.jobs.cancel(jobId, Date.now()));
    if (done) this.wake();
    return done;
  }

  /** Sets concurrency and strict FIFO per ordering key; can run inside the transaction saving the destination's settings. */
  configureDestination(tx: DbOrTx, key: string, options: DestinationOptions): void {
    void tx;
    this.destinations.configure(key, options);
    this.wake();
  }

  /** Clears disabled and paused states and health counters; held jobs are sent at once. */
  enableDestination(key: string): void {
    this.db.transaction(() => this.destinations.enable(key, Date.now()));
    this.log.info("delivery destination enabled", { destination: key });
    this.wake();
  }

  disableDestination(key: string, reason: string): void {
    this.db.transaction(() => this.destinations.disable(key, reason, Date.now()));
  }

  pauseDestination(key: string, until: Date | null, reason: string): void {
    this.db.transaction(() => this.destinations.pause(key, until?.getTime() ?? null, reason, Date.now()));
  }

  getDestination(key: string): Destination | undefined {
    return getDestination(this.db, key);
  }

  listDestinations(): Destination[] {
    return listDestinations(this.db);
  }

  getJob(id: number): Job | undefined {
    return getJob(this.db, id);
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

  /** HTTP log by age and size, and old finished jobs (cron calls this). */
  prune(now: number = Date.now()): { logEntries: number; jobs: number } {
    const logEntries = pruneHttpLog(this.db, this.options.logRetention, now).deleted;
    const jobs = pruneFinishedJobs(this.db, this.options.finishedJobRetentionMs, now);
    return { logEntries, jobs };
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
    this.pump();
  }

  /** Stops claiming and waits up to `deadlineMs` for sends in flight; jobs still leased then are recovered at the next start. */
  async stop(deadlineMs = 5_000): Promise<void> {
    if (this.state === "stopped" || this.state === "stopping") return;
    this.state = "stopping";
    clearTimeout(this.timer);
    let timeout: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.allSettled(this.inFlight.values()), new Promise((r) => (timeout = setTimeout(r, deadlineMs)))]);
    clearTimeout(timeout);
    this.state = "stopped";
    // Abort what is still on the wire; their results are no longer recorded (the database closes).
    this.shutdown.abort();
  }

  /** Schedules one claim pass after the current synchronous work (and so its transaction) is done. */
  wake(): void {
    if (this.wakeQueued || this.state !== "running") return;
    this.wakeQueued = true;
    queueMicrotask(() => {
      this.wakeQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.state !== "running") return;
    clearTimeout(this.timer);
    const now = Date.now();
    let nextAt = now + this.options.idleCheckMs;
    try {
      if (now - this.lastLeaseSweep >= this.options.idleCheckMs) {
        this.lastLeaseSweep = now;
        const released = this.jobs.releaseExpired(now, new Set(this.inFlight.keys()));
        if (released) this.log.warn("delivery jobs with expired leases released", { released });
      }
      let free = this.options.globalConcurrency - this.inFlight.size;
      const candidates: DueJob[] = [];
      for (const dest of this.destinations.eligible(now)) {
        const limit = (dest.concurrency ?? this.options.destinationConcurrency) - (this.perDestination.get(dest.key) ?? 0);
        // Without a free slot, a send in flight wakes the pump when it ends; the next due time only
        // matters when this destination has nothing due now (a query per destination per pass is costly).
        if (free <= 0 || limit <= 0) continue;
        const wanted = Math.min(free, limit);
        const due = this.jobs.dueJobs(dest.key, now, this.kindsJson, wanted);
        candidates.push(...due);
        if (due.length < wanted) {
          const at = this.jobs.nextDueAt(dest.key, now);
          if (at !== null) nextAt = Math.min(nextAt, at);
        }
      }
      const pauseEnd = this.destinations.nextPauseEnd(now);
      if (pauseEnd !== null) nextAt = Math.min(nextAt, pauseEnd);
      // Oldest due first across destinations, so one busy destination cannot starve the others.
      candidates.sort((a, b) => a.runAt - b.runAt || a.id - b.id);
      const claimed = this.db.transaction(() => {
        const out: Job[] = [];
        for (const c of candidates) {
          if (free <= 0) break;
          const job = this.jobs.claim(c.id, now + this.options.leaseMs, now);
          if (job) {
            out.push(job);
            free--;
          }
        }
        return out;
      });
      for (const job of claimed) this.launch(job);
    } catch (err) {
      this.log.error("delivery claim pass failed", { error: String(err) });
    }
    this.timer = setTimeout(() => this.pump(), Math.max(0, nextAt - Date.now()));
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
        this.wake();
      });
    this.inFlight.set(job.id, run);
  }

  private async attempt(job: Job): Promise<void> {
    const handler = this.handlers.get(job.kind)!;
    let attempt: Attempt = null;
    let outcome: Outcome;
    try {
      const raw = await handler.prepare(job);
      if (raw === null) outcome = { kind: "success" };
      else {
        const parsed = httpRequestSpecSchema.safeParse(raw);
        if (!parsed.success) outcome = { kind: "fail", error: `invalid request: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}` };
        else {
          const result = await sendHttp(parsed.data, this.shutdown.signal);
          attempt = { spec: parsed.data, result };
          const fallback = defaultOutcome(result);
          outcome = handler.classify?.(job, result, fallback) ?? fallback;
        }
      }
    } catch (err) {
      // A handler bug or a passing problem (settings unreadable): retried like any failure.
      outcome = { kind: "retry", error: `the ${job.kind} handler failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (this.state === "stopped") return; // Past the shutdown deadline: the lease is recovered at next start.
    try {
      this.complete(job, handler, outcome, attempt);
    } catch (err) {
      if (outcome.kind !== "success") throw err;
      // onSuccess (or recording success) failed: the send happened, but its effect was not stored.
      this.complete(job, handler, { kind: "retry", error: `storing the result failed: ${err instanceof Error ? err.message : String(err)}` }, attempt);
    }
  }

  /** Logs the attempt and applies its outcome to the job and the destination, in one transaction. */
  private complete(job: Job, handler: DeliveryHandler, outcome: Outcome, attempt: Attempt): void {
    const now = Date.now();
    const httpStatus = attempt?.result.status ?? null;
    this.db.transaction((tx) => {
      if (attempt) {
        const secrets = [...attempt.spec.secrets];
        if (attempt.spec.auth?.type === "basic") secrets.push(attempt.spec.auth.password);
        if (attempt.spec.auth?.type === "bearer") secrets.push(attempt.spec.auth.token);
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
          secrets,
          at: new Date(now),
        });
      }
      switch (outcome.kind) {
        case "success":
          this.jobs.finish(job, "succeeded", null, httpStatus, false, now);
          this.destinations.recordSuccess(job.destination, now);
          handler.onSuccess?.(tx, job, attempt?.result ?? null);
          break;
        case "fail":
          this.jobs.finish(job, "failed", outcome.error, httpStatus, true, now);
          this.recordFailure(job, outcome.error, now);
          break;
        case "retry": {
          const counts = outcome.countsAsFailure !== false;
          const failures = job.failedAttempts + (counts ? 1 : 0);
          if (counts) this.recordFailure(job, outcome.error, now);
          if (counts && failures >= job.maxAttempts) {
            this.jobs.finish(job, "failed", outcome.error, httpStatus, true, now);
          } else {
            const schedule = typeof handler.retrySchedule === "function" ? handler.retrySchedule(job) : (handler.retrySchedule ?? DEFAULT_RETRY_SCHEDULE);
            const delay = retryDelay(outcome, counts ? failures : job.attempts, schedule);
            this.jobs.reschedule(job, now + delay, outcome.error, httpStatus, counts, now);
          }
          break;
        }
        case "disable":
          // The job waits, unattempted, with the destination's other jobs until an admin re-enables it.
          this.destinations.disable(job.destination, outcome.reason, now);
          this.jobs.reschedule(job, now, outcome.reason, httpStatus, false, now);
          this.log.warn("delivery destination disabled", { destination: job.destination, reason: outcome.reason });
          break;
        case "pause":
          this.destinations.pause(job.destination, outcome.untilMs ?? null, outcome.reason, now);
          this.jobs.reschedule(job, outcome.untilMs ?? now, outcome.reason, httpStatus, false, now);
          this.log.warn("delivery destination paused", { destination: job.destination, reason: outcome.reason });
          break;
      }
    });
  }

  private recordFailure(job: Job, error: string, now: number): void {
    const { disabled } = this.destinations.recordFailure(job.destination, error, now, this.options.autoDisableAfterMs);
    if (disabled) this.log.warn("delivery destination disabled after failing too long", { destination: job.destination });
  }
}
