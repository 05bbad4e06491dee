import { describe, expect, test } from "bun:test";
import { attemptsChart, hourlyBarsSvg } from "../../src/http/admin/attempts-chart";

const hour = (h: number) => new Date(Date.UTC(2026, 11, 7, h));

describe("attempts charts (webhook page and dashboard share one geometry)", () => {
  test("the webhook chart stacks failures on successes and the tallest bar fills the plot", () => {
    const chart = attemptsChart([
      { start: hour(0), succeeded: 3, failed: 1 },
      { start: hour(1), succeeded: 0, failed: 2 },
    ]);
    expect(chart.max).toBe(4);
    const [first, second] = chart.bars;
    if (!first || !second) throw new Error("two bars expected");
    expect(first.okY + first.okHeight).toBe(chart.baseline);
    expect(first.failedY + first.failedHeight).toBe(first.okY);
    expect(first.failedY).toBe(0); // the tallest bar reaches the top
    expect(second).toMatchObject({ okHeight: 0, failedHeight: 61, failedY: 61, label: "01:00", tick: null });
    expect(chart).toMatchObject({ succeeded: 3, failed: 3 });
  });

  test("the dashboard's bars are whole pixels, at least one tall when there were attempts", () => {
    const svg = hourlyBarsSvg(
      [
        { succeeded: 30, failed: 1 },
        { succeeded: 0, failed: 0 },
      ],
      "Webhooks",
    );
    expect(svg).toContain('aria-label="Webhooks: attempts per hour over the last 24 hours"');
    expect(svg).toContain('<rect x="0" y="1" width="8" height="39" class="bar-ok"/>');
    expect(svg).toContain('<rect x="0" y="0" width="8" height="1" class="bar-failed"/>');
    expect(svg).toContain("<title>Last hour: 0 succeeded, 0 failed</title>");
    expect(svg.match(/bar-ok|bar-failed/g)).toHaveLength(2); // an empty hour draws only its slot
  });
});
