/**
 * Prometheus text-format metrics: request counts by route and status, a latency histogram, and
 * gauges that other modules (the delivery queue, later) register as functions read at scrape time.
 */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Histogram = { counts: number[]; sum: number; count: number };

export class Metrics {
  private requests = new Map<string, number>();
  private latency = new Map<string, Histogram>();
  private gauges = new Map<string, { help: string; type: "gauge" | "counter"; read: () => number | Promise<number> }>();
  private readonly started = Date.now();
  /** Labels every series carries (the node's name), rendered first. */
  private common = "";

  /** Adds a label to every series (e.g. node="a"), so series from several nodes stay apart. */
  labelEverySeries(name: string, value: string): void {
    this.common += `${name}="${escapeLabel(value)}",`;
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `method="${method}",route="${escapeLabel(route)}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const hkey = `method="${method}",route="${escapeLabel(route)}"`;
    let h = this.latency.get(hkey);
    if (!h) this.latency.set(hkey, (h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.counts[i]!++;
    h.sum += seconds;
    h.count++;
  }

  registerGauge(name: string, help: string, read: () => number | Promise<number>): void {
    this.gauges.set(name, { help, type: "gauge", read });
  }

  /** A counter kept elsewhere (it only goes up), read at scrape time like a gauge. */
  registerCounter(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, type: "counter", read });
  }

  async render(): Promise<string> {
    const out: string[] = [];
    const common = this.common;
    /** A series name with its labels (the common ones first); no labels, no braces. */
    const series = (name: string, labels = "") => {
      const all = common + labels;
      return all ? `${name}{${all.replace(/,$/, "")}}` : name;
    };
    out.push("# HELP switchboard_http_requests_total HTTP requests answered, by route and status.");
    out.push("# TYPE switchboard_http_requests_total counter");
    for (const [labels, n] of this.requests) out.push(`${series("switchboard_http_requests_total", labels)} ${n}`);
    out.push("# HELP switchboard_http_request_duration_seconds Time to answer HTTP requests.");
    out.push("# TYPE switchboard_http_request_duration_seconds histogram");
    for (const [labels, h] of this.latency) {
      const bucket = (le: string) => series("switchboard_http_request_duration_seconds_bucket", `${labels},le="${le}"`);
      for (const [i, le] of BUCKETS.entries()) out.push(`${bucket(String(le))} ${h.counts[i]}`);
      out.push(`${bucket("+Inf")} ${h.count}`);
      out.push(`${series("switchboard_http_request_duration_seconds_sum", labels)} ${h.sum}`);
      out.push(`${series("switchboard_http_request_duration_seconds_count", labels)} ${h.count}`);
    }
    out.push("# HELP switchboard_uptime_seconds Seconds since the server started.");
    out.push("# TYPE switchboard_uptime_seconds gauge");
    out.push(`${series("switchboard_uptime_seconds")} ${(Date.now() - this.started) / 1000}`);
    for (const [name, g] of this.gauges) {
      out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} ${g.type}`, `${series(name)} ${await g.read()}`);
    }
    return out.join("\n") + "\n";
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
