/** Successes and failures in one time bucket, as the delivery engine counts them. */
type Attempts = { succeeded: number; failed: number };
export type AttemptCounts = Attempts & { start: Date };

/**
 * The one geometry of every attempts chart: a bar per bucket, failures stacked on successes, the
 * tallest bar filling `height` above `baseline`. `round` turns an exact height into a drawn one.
 */
function stacking(buckets: Attempts[], height: number, baseline: number, round: (h: number) => number) {
  const max = Math.max(1, ...buckets.map((b) => b.succeeded + b.failed));
  const bar = (b: Attempts) => {
    const okHeight = round((b.succeeded / max) * height);
    const failedHeight = round((b.failed / max) * height);
    return { okY: baseline - okHeight, okHeight, failedY: baseline - okHeight - failedHeight, failedHeight };
  };
  return { max, bar };
}

const WIDTH = 720;
const HEIGHT = 140;
const AXIS = 18;

const hourLabel = (d: Date) => `${d.toISOString().slice(11, 13)}:00`;
const tenths = (n: number) => Math.round(n * 10) / 10;

/**
 * The view of an attempts chart: one stacked bar per bucket (failures on top of successes), sized
 * here so the template only draws; a table of the same numbers follows it for screen readers.
 */
export function attemptsChart(buckets: AttemptCounts[]) {
  const slot = WIDTH / Math.max(1, buckets.length);
  const { max, bar } = stacking(buckets, HEIGHT - AXIS, HEIGHT - AXIS, tenths);
  return {
    width: WIDTH,
    height: HEIGHT,
    baseline: HEIGHT - AXIS,
    max,
    bars: buckets.map((b, i) => {
      const x = tenths(i * slot + 1);
      return {
        x,
        width: Math.max(1, tenths(slot - 2)),
        ...bar(b),
        label: hourLabel(b.start),
        // Every fourth hour is named under the axis.
        tick: i % 4 === 0 ? { x: x + 1, y: HEIGHT - 4, text: hourLabel(b.start) } : null,
        succeeded: b.succeeded,
        failed: b.failed,
      };
    }),
    succeeded: buckets.reduce((n, b) => n + b.succeeded, 0),
    failed: buckets.reduce((n, b) => n + b.failed, 0),
  };
}

const SPARK_BAR = 8;
const SPARK_GAP = 2;
const SPARK_HEIGHT = 40;

/**
 * The dashboard's small form of the chart: 24 hourly bars as inline SVG (no chart library, no
 * script), a bar with any attempts at least a pixel tall. Built from numbers and fixed words only,
 * so nothing in it needs escaping. The last bar is the hour ending now.
 */
export function hourlyBarsSvg(hourly: Attempts[], label: string): string {
  const pixels = (h: number) => (h ? Math.max(1, Math.round(h)) : 0);
  const { bar } = stacking(hourly, SPARK_HEIGHT, SPARK_HEIGHT, pixels);
  const svgBars = hourly.map((t, i) => {
    const { okY, okHeight, failedY, failedHeight } = bar(t);
    const x = i * (SPARK_BAR + SPARK_GAP);
    const rect = (y: number, height: number, cls: string) =>
      `<rect x="${x}" y="${y}" width="${SPARK_BAR}" height="${height}" class="${cls}"/>`;
    const ago = hourly.length - 1 - i;
    const title = `${ago ? `${ago}–${ago + 1} h ago` : "Last hour"}: ${t.succeeded} succeeded, ${t.failed} failed`;
    return (
      `<g><title>${title}</title>${rect(0, SPARK_HEIGHT, "bar-slot")}` +
      (okHeight ? rect(okY, okHeight, "bar-ok") : "") +
      (failedHeight ? rect(failedY, failedHeight, "bar-failed") : "") +
      "</g>"
    );
  });
  const width = hourly.length * (SPARK_BAR + SPARK_GAP) - SPARK_GAP;
  return (
    `<svg class="chart" viewBox="0 0 ${width} ${SPARK_HEIGHT}" width="${width}" height="${SPARK_HEIGHT}" role="img" ` +
    `aria-label="${label}: attempts per hour over the last 24 hours">${svgBars.join("")}</svg>`
  );
}
