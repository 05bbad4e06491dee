/**
 * Slows down password guessing: after MAX_FAILURES failed sign-ins for one email or from one
 * address within WINDOW_MS, further attempts are refused until the window has passed.
 */
const MAX_FAILURES = 5;
const WINDOW_MS = 15 * 60_000;

export class LoginThrottle {
  private failures = new Map<string, { count: number; first: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Seconds to wait before another attempt is allowed for any of the keys, or 0. */
  retryAfter(keys: string[]): number {
    let wait = 0;
    for (const key of keys) {
      const f = this.live(key);
      if (f && f.count >= MAX_FAILURES) wait = Math.max(wait, Math.ceil((f.first + WINDOW_MS - this.now()) / 1000));
    }
    return wait;
  }

  fail(keys: string[]): void {
    for (const key of keys) {
      const f = this.live(key);
      if (f) f.count++;
      else this.failures.set(key, { count: 1, first: this.now() });
    }
    if (this.failures.size > 10_000) this.sweep();
  }

  succeed(keys: string[]): void {
    for (const key of keys) this.failures.delete(key);
  }

  private live(key: string) {
    const f = this.failures.get(key);
    if (f && this.now() - f.first > WINDOW_MS) {
      this.failures.delete(key);
      return undefined;
    }
    return f;
  }

  private sweep(): void {
    for (const key of [...this.failures.keys()]) this.live(key);
  }
}
