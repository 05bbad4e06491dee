/**
 * The provider's global request limit, held across concurrent jobs. Every send first takes a slot:
 * a slot is granted only when (a) fewer than `limit` slots were granted in the last window (a log
 * of grant times: provably never more than `limit` in any window) and (b) at least window/limit
 * has passed since the previous grant (pacing, so the limit is spread evenly instead of bursting).
 * A margin widens the window a little so jitter between taking a slot and the request arriving
 * cannot squeeze `limit + 1` arrivals into one window at the provider.
 * The provider's X-RateLimit-Remaining lowers the budget until its reset.
 */
const CATCH_UP_MS = 1000;

export class RateLimiter {
  private grants: number[] = [];
  private head = 0;
  private last = -Infinity;
  private queue: Promise<void> = Promise.resolve();
  private budget: { remaining: number; until: number } | null = null;
  private closed = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
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

  /** Slots granted in the last window (what the operations dashboard shows as the rate used). */
  usedInWindow(): number {
    const since = this.now() - this.windowMs;
    let n = 0;
    for (let i = this.grants.length - 1; i >= this.head && this.grants[i]! > since; i--) n++;
    return n;
  }

  /** Waits for a slot; slots are granted one at a time in call order. */
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
      const window = this.windowMs + this.marginMs;
      while (this.head < this.grants.length && this.grants[this.head]! <= now - window) this.head++;
      if (this.head > 4096) {
        this.grants = this.grants.slice(this.head);
        this.head = 0;
      }
      let waitMs = 0;
      const inWindow = this.grants.length - this.head;
      if (inWindow >= this.limit) waitMs = this.grants[this.grants.length - this.limit]! + window - now;
      waitMs = Math.max(waitMs, this.last + window / this.limit - now);
      if (this.budget) {
        if (now >= this.budget.until) this.budget = null;
        else if (this.budget.remaining <= 0) waitMs = Math.max(waitMs, this.budget.until - now);
      }
      if (waitMs <= 0) {
        this.grants.push(now);
        // Paced from the slot's planned time, not from when it was taken, so timer lag and a busy
        // moment do not slow the pace (up to a second's worth of catch-up; the log above still
        // bounds every window).
        this.last = Math.max(
          this.last + window / this.limit,
          now - Math.max(window / this.limit, Math.min(CATCH_UP_MS, window / 10)),
        );
        if (this.budget) this.budget.remaining--;
        return;
      }
      await this.sleep(Math.ceil(waitMs));
    }
  }
}
