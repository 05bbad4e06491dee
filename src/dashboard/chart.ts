import type { Tally } from "../delivery/stats";

const BAR = 8;
const GAP = 2;
const HEIGHT = 40;

/**
 * 24 hourly bars, successes stacked under failures, as inline SVG (no chart library, no script).
 * Built from numbers and fixed words only, so nothing in it needs escaping. The last bar is the
 * hour ending now.
 */
export function hourlyBarsSvg(hourly: Tally[], label: string): string {
  const max = Math.max(1, ...hourly.map((t) => t.succeeded + t.failed));
  const scale = (n: number) => (n ? Math.max(1, Math.round((n / max) * HEIGHT)) : 0);
  const bars = hourly.map((t, i) => {
    const x = i * (BAR + GAP);
    const ok = scale(t.succeeded);
    const bad = scale(t.failed);
    const ago = hourly.length - 1 - i;
    const title = `${ago ? `${ago}–${ago + 1} h ago` : "Last hour"}: ${t.succeeded} succeeded, ${t.failed} failed`;
    return (
      `<g><title>${title}</title>` +
      `<rect x="${x}" y="0" width="${BAR}" height="${HEIGHT}" class="bar-slot"/>` +
      (ok ? `<rect x="${x}" y="${HEIGHT - ok}" width="${BAR}" height="${ok}" class="bar-ok"/>` : "") +
      (bad ? `<rect x="${x}" y="${HEIGHT - ok - bad}" width="${BAR}" height="${bad}" class="bar-failed"/>` : "") +
      "</g>"
    );
  });
  const width = hourly.length * (BAR + GAP) - GAP;
  return (
    `<svg class="chart" viewBox="0 0 ${width} ${HEIGHT}" width="${width}" height="${HEIGHT}" role="img" ` +
    `aria-label="${label}: attempts per hour over the last 24 hours">${bars.join("")}</svg>`
  );
}
