/** Counts in a ring of fixed slots, in memory: adding and reading cost the same at any rate. */
class SlidingCount {
  private readonly counts: number[];
  private readonly slots: number[];

  constructor(
    private readonly slotMs: number,
    private readonly size: number,
  ) {
    this.counts = new Array<number>(size).fill(0);
    this.slots = new Array<number>(size).fill(-1);
  }

  add(n: number, now: number): void {
    const slot = Math.floor(now / this.slotMs);
    const i = slot % this.size;
    if (this.slots[i] !== slot) {
      this.slots[i] = slot;
      this.counts[i] = 0;
    }
    this.counts[i]! += n;
  }

  /** The count over the last `size` slots, the current one included. */
  total(now: number): number {
    const oldest = Math.floor(now / this.slotMs) - this.size;
    let sum = 0;
    for (let i = 0; i < this.size; i++) if (this.slots[i]! > oldest) sum += this.counts[i]!;
    return sum;
  }
}

/** Identify calls accepted in the last minute (to the second) and hour (to the minute), since start. */
export class IngestRate {
  private readonly bySecond = new SlidingCount(1000, 60);
  private readonly byMinute = new SlidingCount(60_000, 60);

  record(identifies: number, now: number = Date.now()): void {
    if (!identifies) return;
    this.bySecond.add(identifies, now);
    this.byMinute.add(identifies, now);
  }

  snapshot(now: number = Date.now()): { lastMinute: number; lastHour: number } {
    return { lastMinute: this.bySecond.total(now), lastHour: this.byMinute.total(now) };
  }
}
