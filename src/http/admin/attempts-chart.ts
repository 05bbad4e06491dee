/** Successes and failures per time bucket, as the delivery engine counts them. */
export type AttemptCounts = { start: Date; succeeded: number; failed: number };

const WIDTH = 720;
const HEIGHT = 140;
const AXIS = 18;

const hourLabel = (d: Date) => `${d.toISOString().slice(11, 13)}:00`;

/**
 * The view of an attempts chart: one stacked bar per bucket (failures on top of successes), sized
 * here so the template only draws; a table of the same numbers follows it for screen readers.
 */
export function attemptsChart(buckets: AttemptCounts[]) {
  const max = Math.max(1, ...buckets.map((b) => b.succeeded + b.failed));
  const slot = WIDTH / Math.max(1, buckets.length);
  const scale = (n: number) => Math.round((n / max) * (HEIGHT - AXIS) * 10) / 10;
  const bars = buckets.map((b, i) => {
    const okHeight = scale(b.succeeded);
    const failedHeight = scale(b.failed);
    const x = Math.round((i * slot + 1) * 10) / 10;
    return {
      x,
      width: Math.max(1, Math.round((slot - 2) * 10) / 10),
      okY: HEIGHT - AXIS - okHeight,
      okHeight,
      failedY: HEIGHT - AXIS - okHeight - failedHeight,
      failedHeight,
      label: hourLabel(b.start),
      // Every fourth hour is named under the axis.
      tick: i % 4 === 0 ? { x: x + 1, y: HEIGHT - 4, text: hourLabel(b.start) } : null,
      succeeded: b.succeeded,
      failed: b.failed,
    };
  });
  return {
    width: WIDTH,
    height: HEIGHT,
    baseline: HEIGHT - AXIS,
    max,
    bars,
    succeeded: buckets.reduce((n, b) => n + b.succeeded, 0),
    failed: buckets.reduce((n, b) => n + b.failed, 0),
  };
}
