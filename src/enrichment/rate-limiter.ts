import { and, count, desc, gt, lt, lte, min } from "drizzle-orm";
import type { Db } from "../db/client";
import { enrichmentRateCalls as calls } from "./schema";

/**
 * The provider's request limit, one for the whole cluster: every node on the database takes its
 * slots from the same sliding log (enrichment_rate_calls, one row per call granted). A slot is
 * granted only when (a) fewer than `limit` calls were granted in the last window (provably never
 * more than `limit` in any window, however many nodes run) and (b) about window/limit has passed
 * since the previous grant anywhere (pacing, so the limit is spread evenly instead of bursting).
 * Deciding and recording happen in one short transaction; a grant takes the next call number, so
 * two nodes granting at once collide on it and the loser looks again (on PostgreSQL, whose
 * transactions run side by side; on SQLite they queue). A margin widens the window a little so
 * jitter between taking a slot and the request arriving (and between the nodes' clocks, kept in
 * step by NTP) cannot squeeze `limit + 1` arrivals into one window at the provider.
 * The provider's X-RateLimit-Remaining lowers this node's budget until its reset.
 */
export class RateLimiter {
  private queue: Promise<void> = Promise.resolve();
  private budget: { remaining: number; until: number } | null = null;
  private closed = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    private readonly db: Db,
    private limit: number,
    private readonly windowMs = 60_000,
    private readonly marginMs = Math.max(5, windowMs / 100),
    private readonly now: () => number = Date.now,
  ) {}

  setLimit(limit: number): void {
    this.limit = limit;
  }

  get perWindow(): number {
    return this.limit;
  }

  /** Calls granted in the last window by every node (what the operations dashboard shows as the rate used). */
  async usedInWindow(): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(calls)
      .where(gt(calls.at, this.now() - this.windowMs));
    return row?.n ?? 0;
  }

  /** Waits for a slot; this node's takers ask one at a time, in call order. */
  take(): Promise<void> {
    const turn = this.queue.then(() => this.waitForSlot());
    this.queue = turn.catch(() => {});
    return turn;
  }

  /** What the provider said is left until its reset (seconds or epoch seconds). */
  observe(remaining: number | undefined, resetSeconds: number | undefined): void {
    if (remaining === undefined || !Number.isFinite(remaining)) return;
    const now = this.now();
    const reset =
      resetSeconds === undefined ? this.windowMs : resetSeconds > 1e9 ? resetSeconds * 1000 - now : resetSeconds * 1000;
    this.budget = {
      remaining: Math.max(0, Math.floor(remaining)),
      until: now + Math.max(0, Math.min(reset, 3_600_000)),
    };
  }

  /** Ends every wait (server stop): waiting jobs fail their attempt and are recovered later. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error("rate limiter closed"));
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (this.closed) reject(new Error("rate limiter closed"));
        else resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private async waitForSlot(): Promise<void> {
    for (;;) {
      if (this.closed) throw new Error("rate limiter closed");
      const now = this.now();
      let waitMs = 0;
      if (this.budget) {
        if (now >= this.budget.until) this.budget = null;
        else if (this.budget.remaining <= 0) waitMs = this.budget.until - now;
      }
      if (waitMs <= 0) waitMs = await this.tryGrant();
      if (waitMs <= 0) {
        if (this.budget) this.budget.remaining--;
        return;
      }
      await this.sleep(Math.ceil(waitMs));
    }
  }

  /**
   * One look at the shared log: grants a slot (0), or says how long to wait. A grant that collides
   * with another node's (the same call number) looks again at once.
   */
  private tryGrant(): Promise<number> {
    const window = this.windowMs + this.marginMs;
    // Paced from the previous grant, a little early: the time taken to look again is not lost
    // (the window's count still bounds every window).
    const pace = (window / this.limit) * 0.95;
    return this.db.transaction(async (tx) => {
      // Read once the transaction runs: the time recorded is never earlier than the call it grants.
      const now = this.now();
      const [last] = await tx.select().from(calls).orderBy(desc(calls.seq)).limit(1);
      const [inWindow] = await tx
        .select({ n: count(), oldest: min(calls.at) })
        .from(calls)
        .where(gt(calls.at, now - window));
      let waitMs = last ? last.at + pace - now : 0;
      if ((inWindow?.n ?? 0) >= this.limit) waitMs = Math.max(waitMs, (inWindow?.oldest ?? now) + window - now, 1);
      if (waitMs > 0) return waitMs;
      const seq = (last?.seq ?? 0) + 1;
      const granted = await tx
        .insert(calls)
        .values({ seq, at: now })
        .onConflictDoNothing()
        .returning({ seq: calls.seq });
      if (granted.length === 0) return 1;
      // The newest call always stays, so the next number is never given twice.
      if (last) await tx.delete(calls).where(and(lte(calls.at, now - window), lt(calls.seq, seq)));
      return 0;
    });
  }
}
