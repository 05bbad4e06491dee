import { describe, expect, test } from "bun:test";
import { Metrics } from "../../src/metrics";

const lines = (text: string) => text.trimEnd().split("\n");
const seriesValue = (text: string, series: string) => {
  const line = lines(text).find((l) => l.startsWith(series + " "));
  if (!line) throw new Error(`no ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
};

describe("Metrics", () => {
  test("counts requests by method, route and status", async () => {
    const m = new Metrics();
    m.observeRequest("GET", "/healthz", 200, 0.001);
    m.observeRequest("GET", "/healthz", 200, 0.002);
    m.observeRequest("POST", "/login", 401, 0.2);
    const text = await m.render();
    expect(text).toContain("# TYPE switchboard_http_requests_total counter");
    expect(seriesValue(text, 'switchboard_http_requests_total{method="GET",route="/healthz",status="200"}')).toBe(2);
    expect(seriesValue(text, 'switchboard_http_requests_total{method="POST",route="/login",status="401"}')).toBe(1);
  });

  test("renders a cumulative latency histogram with sum and count", async () => {
    const m = new Metrics();
    m.observeRequest("GET", "/", 200, 0.003);
    m.observeRequest("GET", "/", 200, 0.3);
    m.observeRequest("GET", "/", 200, 30);
    const text = await m.render();
    expect(text).toContain("# TYPE switchboard_http_request_duration_seconds histogram");
    const bucket = (le: string) =>
      seriesValue(text, `switchboard_http_request_duration_seconds_bucket{method="GET",route="/",le="${le}"}`);
    expect(bucket("0.005")).toBe(1);
    expect(bucket("0.25")).toBe(1);
    expect(bucket("0.5")).toBe(2);
    expect(bucket("10")).toBe(2);
    expect(bucket("+Inf")).toBe(3);
    expect(seriesValue(text, 'switchboard_http_request_duration_seconds_count{method="GET",route="/"}')).toBe(3);
    expect(seriesValue(text, 'switchboard_http_request_duration_seconds_sum{method="GET",route="/"}')).toBeCloseTo(
      30.303,
      6,
    );
    // Buckets never decrease.
    const counts = lines(text)
      .filter((l) => l.startsWith("switchboard_http_request_duration_seconds_bucket"))
      .map((l) => Number(l.split(" ").at(-1)));
    for (let i = 1; i < counts.length; i++) expect(counts[i]!).toBeGreaterThanOrEqual(counts[i - 1]!);
  });

  test("a label given for every series goes first in each, and on unlabelled series too", async () => {
    const m = new Metrics();
    m.labelEverySeries("node", "a:8080");
    m.observeRequest("GET", "/", 200, 0.003);
    m.registerGauge("switchboard_things", "Things.", () => 7);
    const text = await m.render();
    expect(
      seriesValue(text, 'switchboard_http_requests_total{node="a:8080",method="GET",route="/",status="200"}'),
    ).toBe(1);
    expect(seriesValue(text, 'switchboard_things{node="a:8080"}')).toBe(7);
    expect(text).toMatch(/^switchboard_uptime_seconds\{node="a:8080"\} /m);
    expect(lines(text).filter((l) => !l.startsWith("#") && !l.includes('{node="a:8080"'))).toEqual([]);
  });

  test("escapes label values", async () => {
    const m = new Metrics();
    m.observeRequest("GET", 'a"b\\c\nd', 200, 0.01);
    expect(await m.render()).toContain('route="a\\"b\\\\c\\nd"');
  });

  test("uptime and registered gauges are read at scrape time; every line is valid exposition format", async () => {
    const m = new Metrics();
    let depth = 3;
    m.registerGauge("switchboard_queue_depth", "Jobs waiting.", () => depth);
    expect(seriesValue(await m.render(), "switchboard_queue_depth")).toBe(3);
    depth = 7;
    const text = await m.render();
    expect(seriesValue(text, "switchboard_queue_depth")).toBe(7);
    expect(text).toContain("# TYPE switchboard_queue_depth gauge");
    expect(seriesValue(text, "switchboard_uptime_seconds")).toBeGreaterThanOrEqual(0);
    expect(text.endsWith("\n")).toBe(true);
    for (const l of lines(text)) expect(l).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [-+0-9.eInf]+)$/);
  });
});
