import { describe, expect, test } from "bun:test";
import { periodStart } from "../../src/cluster/schedules";

/** A timer firing every `every` ms from `offset` (as a cron pattern does), answering as croner's nextRun. */
const timer = (every: number, offset = 0) => ({
  nextRun: (after?: Date | null) => {
    const t = Math.floor((after ?? new Date()).getTime() / 1000) * 1000;
    return new Date(Math.floor((t - offset) / every) * every + every + offset);
  },
});
/** Fires at 09:00 and 17:00 each day: periods of 8 and 16 hours. */
const twiceDaily = {
  nextRun: (after?: Date | null) => {
    const t = Math.floor(after!.getTime() / 1000) * 1000;
    const day = Math.floor(t / 86_400_000) * 86_400_000;
    const times = [0, 1, 2].flatMap((d) => [9, 17].map((h) => day + d * 86_400_000 + h * 3_600_000));
    return new Date(times.find((x) => x > t)!);
  },
};

describe("periodStart: the period a timer's firing belongs to", () => {
  const hour = 3_600_000;
  const at7 = Date.UTC(2026, 11, 7, 17, 7);

  test("a firing on time, late or a little early belongs to the period starting at its scheduled time", () => {
    const hourly = timer(hour, 7 * 60_000);
    for (const drift of [0, 3, 250, 4_000, -1, -900]) expect(periodStart(hourly, at7 + drift)).toBe(at7);
  });

  test("a run between firings (a manual trigger) belongs to the period under way", () => {
    expect(periodStart(timer(hour, 7 * 60_000), at7 + 20 * 60_000)).toBe(at7);
    expect(periodStart(timer(15 * 60_000), Date.UTC(2026, 11, 7, 17, 40, 12))).toBe(Date.UTC(2026, 11, 7, 17, 30));
  });

  test("short periods allow proportionally less drift", () => {
    const every2s = timer(2_000);
    const t = Date.UTC(2026, 11, 7, 17, 0, 10);
    expect(periodStart(every2s, t + 300)).toBe(t);
    expect(periodStart(every2s, t - 300)).toBe(t);
  });

  test("uneven periods each keep their own start", () => {
    const day = Date.UTC(2026, 11, 7);
    expect(periodStart(twiceDaily, day + 9 * hour + 20)).toBe(day + 9 * hour);
    expect(periodStart(twiceDaily, day + 17 * hour + 20)).toBe(day + 17 * hour);
    expect(periodStart(twiceDaily, day + 33 * hour + 20)).toBe(day + 33 * hour);
    expect(periodStart(twiceDaily, day + 20 * hour)).toBe(day + 17 * hour);
  });
});
