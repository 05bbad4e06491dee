/**
 * bench/rest-webhook: REST creates (POST /api/v1/users) at concurrency 16, each fanned out by a
 * trigger to one webhook, until the signed delivery reaches a receiver in this process. Reports
 * deliveries per second, answer and answer→delivery latency, and the server's CPU per change
 * (from /proc). Baseline, same run: a bare server storing the change and an outbox job in one
 * transaction, sent by the bare durable outbox (bench/support/bare-outbox.ts).
 * Each server first runs WARMUP seconds of the same load, not counted: the CPU per change is the steady
 * state's, not start-up's and the JIT's spread over however many changes a loaded machine managed.
 * Run: npx bun bench/rest-webhook.ts   (CONCURRENCY, SECONDS, WARMUP to change the load)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { fmt, load, percentiles } from "./support/load";
import { startSwitchboard } from "./support/switchboard";

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const SECONDS = Number(process.env.SECONDS ?? 10);
const WARMUP = Number(process.env.WARMUP ?? 3);

// Answered at (per email) and delivered at, to measure answer → delivery.
const answeredAt = new Map<string, number>();
const deliveryLatencies: number[] = [];
let delivered = 0;
let firstDelivery: { body: string; headers: Record<string, string> } | undefined;
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const body = await req.text();
    delivered++;
    firstDelivery ??= { body, headers: Object.fromEntries(req.headers) };
    const email = /"email":"([^"]+)"/.exec(body)?.[1];
    const at = email ? answeredAt.get(email) : undefined;
    if (at !== undefined) deliveryLatencies.push(performance.now() - at);
    return new Response("ok");
  },
});
const receiverUrl = `http://127.0.0.1:${receiver.port}/hook`;

/** utime + stime of a process in milliseconds (Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function waitFor(n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (delivered < n) {
    if (Date.now() > deadline) throw new Error(`only ${delivered} of ${n} deliveries arrived`);
    await Bun.sleep(5);
  }
}

/** Creates people at CONCURRENCY for SECONDS through `url`, then waits until each was delivered. */
async function run(name: string, pid: number, create: (body: string) => Promise<Response>, seconds = SECONDS) {
  delivered = 0;
  deliveryLatencies.length = 0;
  firstDelivery = undefined;
  const cpu0 = cpuMs(pid);
  const started = performance.now();
  const result = await load({
    concurrency: CONCURRENCY,
    seconds,
    request: async (i) => {
      const email = `${name}-${i}@bench.example`;
      const res = await create(JSON.stringify({ email, firstname: "Bench", lastname: `Person ${i}` }));
      answeredAt.set(email, performance.now());
      return res;
    },
  });
  const created = result.requests - result.errors;
  await waitFor(created, 120_000);
  const elapsed = (performance.now() - started) / 1000;
  const cpuPerChange = (cpuMs(pid) - cpu0) / created;
  return { result, created, rate: created / elapsed, cpuPerChange, latency: percentiles(deliveryLatencies) };
}

// Baseline: the bare REST + outbox server.
const bareDir = mkdtempSync(join(tmpdir(), "bench-bare-outbox-"));
const bareProc = Bun.spawn(
  [
    process.execPath,
    join(import.meta.dir, "support/bare-rest-outbox-server.ts"),
    join(bareDir, "bare.db"),
    receiverUrl,
    "8",
  ],
  { stdout: "pipe" },
);
const bareUrl = JSON.parse(
  new TextDecoder()
    .decode((await bareProc.stdout.getReader().read()).value)
    .trim()
    .split("\n")[0]!,
).url as string;
const bareCreate = (body: string) =>
  fetch(`${bareUrl}/users`, { method: "POST", headers: { "content-type": "application/json" }, body });
await run("bare-warmup", bareProc.pid, bareCreate, WARMUP);
const bare = await run("bare", bareProc.pid, bareCreate);
bareProc.kill();
await bareProc.exited;
rmSync(bareDir, { recursive: true, force: true });

// Switchboard: one webhook, one trigger on user.created.
const sb = await startSwitchboard();
const api = (path: string, body: unknown) =>
  fetch(`${sb.url}/api/v1${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${sb.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
const hook = (await (await api("/webhooks", { name: "bench", url: receiverUrl })).json()) as {
  id: number;
  signing_secret: string;
};
await api("/triggers", { name: "bench", events: ["user.created"], webhook_ids: [hook.id] });
const sbCreate = (body: string) =>
  fetch(`${sb.url}/api/v1/users`, {
    method: "POST",
    headers: { authorization: `Bearer ${sb.token}`, "content-type": "application/json" },
    body,
  });
await run("sb-warmup", sb.pid, sbCreate, WARMUP);
const ours = await run("sb", sb.pid, sbCreate);
// The deliveries are really signed: the first one verifies with the webhook's secret.
new Webhook(hook.signing_secret).verify(firstDelivery!.body, firstDelivery!.headers);
await sb.stop();
receiver.stop(true);

const line = (name: string, r: typeof ours) =>
  `${name}: ${r.created} changes, ${fmt(r.rate, 0)} deliveries/s, answer p50 ${fmt(r.result.p50)} ms p99 ` +
  `${fmt(r.result.p99)} ms, answer→delivery p50 ${fmt(r.latency.p50)} ms p99 ${fmt(r.latency.p99)} ms, ` +
  `CPU ${fmt(r.cpuPerChange, 2)} ms/change, errors ${r.result.errors}`;
console.log(
  `concurrency ${CONCURRENCY}, ${WARMUP}s of warm-up, then ${SECONDS}s of creates and until every delivery arrived`,
);
console.log(line("bare outbox", bare));
console.log(line("switchboard", ours));
console.log(`RESULT rest_webhook ${fmt(ours.rate, 0)} deliveries/s ratio=${fmt(ours.rate / bare.rate, 2)}`);
console.log(`RESULT rest_webhook_bare_outbox ${fmt(bare.rate, 0)} deliveries/s ratio=1.00`);
console.log(
  `RESULT rest_webhook_delivery_p99 ${fmt(ours.latency.p99)} ms ratio=${fmt(ours.latency.p99 / bare.latency.p99, 2)}`,
);
console.log(
  `RESULT rest_webhook_cpu_per_change ${fmt(ours.cpuPerChange, 2)} ms ratio=${fmt(ours.cpuPerChange / bare.cpuPerChange, 2)}`,
);
if (ours.result.errors) process.exitCode = 1;
