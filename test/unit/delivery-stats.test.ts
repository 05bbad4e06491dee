import { describe, expect, test } from "bun:test";
import { JobStore, type NewJobRow } from "../../src/delivery/job-store";
import {
  attemptVerdict,
  AttemptTally,
  facilityStats,
  PERIOD_MS,
  pruneAttemptCounts,
  queueStats,
  troubledDestinations,
} from "../../src/delivery/stats";
import { rowsOf, writeRows } from "../support/store";
import { unitDb } from "../support/unit-db";

const HOUR = 3_600_000;
/** A period boundary, so the arithmetic below is exact. */
const NOW = Math.floor(1_700_000_000_000 / PERIOD_MS) * PERIOD_MS + 1_000;

describe("attempt verdicts", () => {
  test("a sent success and counting failures count; pauses, 'later' and nothing-to-send do not", () => {
    expect(attemptVerdict({ kind: "success" }, true)).toBe("succeeded");
    expect(attemptVerdict({ kind: "success" }, false)).toBeNull();
    expect(attemptVerdict({ kind: "retry", error: "HTTP 500" }, true)).toBe("failed");
    expect(attemptVerdict({ kind: "retry", error: "later", countsAsFailure: false }, true)).toBeNull();
    expect(attemptVerdict({ kind: "fail", error: "HTTP 400" }, true)).toBe("failed");
    expect(attemptVerdict({ kind: "disable", reason: "410" }, true)).toBe("failed");
    expect(attemptVerdict({ kind: "pause", reason: "429" }, true)).toBeNull();
  });
});

describe("facility stats", () => {
  test("the last hour, the last day and 24 hourly bars, per facility; older counts are pruned", async () => {
    const db = await unitDb();
    const tally = new AttemptTally();
    tally.add("webhook", "succeeded", NOW);
    tally.add("webhook", "failed", NOW - 1000);
    tally.add("webhook", null, NOW); // neither (a pause)
    tally.add("webhook", "failed", NOW - 2 * HOUR);
    tally.add("webhook", "succeeded", NOW - 23 * HOUR);
    tally.add("webhook", "succeeded", NOW - 25 * HOUR); // outside the day
    tally.add("clearbit", "failed", NOW);
    await db.transaction((tx) => tally.write(tx));
    // A second tick's tally adds to the same periods.
    const again = new AttemptTally();
    again.add("clearbit", "succeeded", NOW);
    await db.transaction((tx) => again.write(tx));
    const s = await facilityStats(db, "webhook", NOW);
    expect(s.lastHour).toEqual({ succeeded: 1, failed: 1 });
    expect(s.lastDay).toEqual({ succeeded: 2, failed: 2 });
    expect(s.hourly).toHaveLength(24);
    expect(s.hourly[23]).toEqual({ succeeded: 1, failed: 1 });
    expect(s.hourly[22]).toEqual({ succeeded: 0, failed: 1 }); // its period ended 1 h 55 min ago
    expect(s.hourly[1]).toEqual({ succeeded: 1, failed: 0 });
    expect(s.hourly.filter((t) => t.succeeded + t.failed).length).toBe(3);
    expect((await facilityStats(db, "clearbit", NOW)).lastDay).toEqual({ succeeded: 1, failed: 1 });
    // One row per facility and period, however many attempts.
    expect(await rowsOf(db, "SELECT COUNT(*) AS n FROM delivery_attempt_counts")).toEqual([{ n: 5 }]);
    expect(await db.transaction((tx) => pruneAttemptCounts(tx, NOW + 24 * HOUR))).toBe(1); // two days are kept
    await db.close();
  });
});

describe("queue stats and troubled destinations", () => {
  async function fixture() {
    const db = await unitDb();
    const store = new JobStore();
    let n = 0;
    const add = (destination: string, runAt: number, over: Partial<NewJobRow> = {}) =>
      db.transaction((tx) =>
        store.insert(
          tx,
          {
            kind: "webhook",
            destination,
            orderingKey: null,
            payload: "{}",
            maxAttempts: 5,
            runAt,
            deliveryId: `d-${++n}`,
            redeliveryOf: null,
            ...over,
          },
          NOW,
        ),
      );
    return { db, add };
  }

  test("depth counts every active job; the oldest due job is among sending destinations only", async () => {
    const { db, add } = await fixture();
    expect(await queueStats(db, NOW)).toEqual({ depth: 0, oldestDueAt: null });
    await add("a", NOW + 60_000); // a retry, not yet due
    expect(await queueStats(db, NOW)).toEqual({ depth: 1, oldestDueAt: null });
    await add("a", NOW - 5_000);
    await add("b", NOW - 9_000);
    await add("held", NOW - 60_000);
    await writeRows(db, "UPDATE delivery_destinations SET disabled_at = ? WHERE key = 'held'", NOW);
    expect(await queueStats(db, NOW)).toEqual({ depth: 4, oldestDueAt: NOW - 9_000 });
    await db.close();
  });

  test("failing, paused (until a time still ahead, or indefinitely) and disabled destinations, worst first", async () => {
    const { db, add } = await fixture();
    for (const key of ["ok", "failing", "paused", "pause-over", "disabled"]) await add(key, NOW + HOUR);
    const set = (key: string, sql: string, ...args: (number | string)[]) =>
      writeRows(db, `UPDATE delivery_destinations SET ${sql} WHERE key = '${key}'`, ...args);
    await set("failing", "failing_since = ?, last_error = 'HTTP 500', consecutive_failures = 4", NOW - HOUR);
    await set("paused", "paused_at = ?, paused_until = ?, pause_reason = 'over quota'", NOW - 10, NOW + HOUR);
    await set("pause-over", "paused_at = ?, paused_until = ?, pause_reason = 'over'", NOW - HOUR, NOW - 1);
    await set("disabled", "disabled_at = ?, disabled_reason = 'gone (410)'", NOW - 5);
    const rows = await troubledDestinations(db, NOW, 10);
    expect(rows).toEqual([
      {
        key: "disabled",
        state: "disabled",
        since: NOW - 5,
        reason: "gone (410)",
        consecutiveFailures: 0,
        activeJobs: 1,
      },
      { key: "paused", state: "paused", since: NOW - 10, reason: "over quota", consecutiveFailures: 0, activeJobs: 1 },
      {
        key: "failing",
        state: "failing",
        since: NOW - HOUR,
        reason: "HTTP 500",
        consecutiveFailures: 4,
        activeJobs: 1,
      },
    ]);
    expect((await troubledDestinations(db, NOW, 1)).map((r) => r.key)).toEqual(["disabled"]);
    await db.close();
  });
});
