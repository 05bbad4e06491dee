/**
 * Webhook fan-out benchmark: organization.created events fanned out by one trigger to 10 endpoints on
 * a local receiver, through the real server (triggers, payloads, signing, delivery engine, HTTP log).
 * Baselines, same run: a bare loop of fetch calls at the engine's concurrency to the same receiver, and a
 * bare durable outbox (bench/support/bare-outbox.ts: the same guarantees in the least code).
 *   1. throughput: 10,000 events → 100,000 deliveries (memory sampled over the run; on a slow machine
 *      event creation stops after 100 s and the figures say how many deliveries were made)
 *   2. latency at a moderate rate (20 events/s → 200 deliveries/s): event commit → receipt, p50/p99
 *   3. isolation: the same moderate rate with a slow (3 s answers) and a dead (nothing listening)
 *      endpoint added to the trigger; latency of the healthy endpoints compared with step 2
 *   4. the throughput comparison again against a receiver that takes 5 ms per answer, like a real
 *      service on the LAN (step 1's receiver answers instantly, so there the bare loop is CPU-bound)
 * Run: npx bun bench/webhooks.ts   (about 1–2 minutes)
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../src/config";
import { createOrganization } from "../src/domain/organizations";
import { createLogger } from "../src/log";
import { startServer } from "../src/server";
import { tempDir } from "../test/support/server";
import { bareOutbox } from "./support/bare-outbox";

const ENDPOINTS = 10;
const THROUGHPUT_EVENTS = 10_000;
/** 200 deliveries/s: moderate for one process that also records the changes and runs the receiver. */
const RATE_EVENTS_PER_S = 20;
const RATE_SECONDS = 6;
/** Keeps the run bounded on a slow machine: event creation stops here even before 10,000 events. */
const THROUGHPUT_EMIT_DEADLINE_MS = 100_000;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN;
};
const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
const memory = () => {
  Bun.gc(true);
  return process.memoryUsage();
};

// The receiver: answers at once, except /slow (3 s). Records when each event's delivery arrived.
const committedAt = new Map<number, number>();
let received = 0;
let outboxReceived = 0;
let latencies: number[] = [];
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const body = await req.text();
    const path = new URL(req.url).pathname;
    if (path === "/slow") await Bun.sleep(3_000);
    if (path.startsWith("/outbox/")) outboxReceived++;
    if (path.startsWith("/lan")) await Bun.sleep(5);
    if (path.startsWith("/h/") || path.startsWith("/lan/h/")) {
      received++;
      const m = /"event":\{"id":(\d+)/.exec(body);
      const at = m ? committedAt.get(Number(m[1])) : undefined;
      if (at !== undefined) latencies.push(performance.now() - at);
    }
    return new Response("ok");
  },
});
const receiverUrl = `http://127.0.0.1:${receiver.port}`;

const dataDir = tempDir("switchboard-bench-");
const server = await startServer(
  loadConfig({ host: "127.0.0.1", port: "0", logLevel: "error", dataDir }, {}),
  createLogger("error", () => {}),
);
const { ctx } = server;
const { service } = server.features.webhooks;
const concurrency = ctx.delivery.options.globalConcurrency;

const hookIds: number[] = [];
for (let i = 0; i < ENDPOINTS; i++)
  hookIds.push(
    (
      await service.endpoints.create(
        { name: `endpoint ${i}`, url: `${receiverUrl}/h/${i}`, signature_token: "bench-token" },
        null,
      )
    ).row.id,
  );
const trigger = await service.triggers.create(
  { name: "bench", events: ["organization.created"], webhook_ids: hookIds },
  null,
);

let seq = 0;
const actor = { id: null, source: "system" as const };
/** Records one change (one transaction) and notes when it committed. */
async function emit(): Promise<void> {
  await createOrganization(ctx.db, ctx.events, { name: `org ${seq++}` }, actor);
  committedAt.set(lastEventId(), performance.now());
}
const lastEventIdQuery = ctx.db.$client.prepare<{ id: number }, []>("SELECT max(id) AS id FROM events");
const lastEventId = () => lastEventIdQuery.get()!.id;

async function waitForDeliveries(n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (received < n) {
    if (Date.now() > deadline) throw new Error(`only ${received} of ${n} deliveries arrived`);
    await Bun.sleep(2);
  }
}

// 1. Throughput and memory over 100k deliveries.
const mem0 = memory();
const memSamples: number[] = [];
const started = performance.now();
let events = 0;
while (events < THROUGHPUT_EVENTS && performance.now() - started < THROUGHPUT_EMIT_DEADLINE_MS) {
  await emit();
  events++;
  if (events % 50 === 0) await Bun.sleep(0);
  if (events % 1000 === 0) memSamples.push(process.memoryUsage().heapUsed);
}
const total = events * ENDPOINTS;
await waitForDeliveries(total, 170_000);
const webhookSeconds = (performance.now() - started) / 1000;
const webhookRate = total / webhookSeconds;
const mem1 = memory();
const sampleBody = JSON.stringify({
  organization: { id: 1, name: "org 1", members: [], note: null },
  event: { id: 1, type: "organization.created" },
}).padEnd(1500, " ");

// Bare baseline: the same number of POSTs at the engine's concurrency, no queue, no signing, no log.
let next = 0;
const bareStarted = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      const res = await fetch(`${receiverUrl}/bare/${i % ENDPOINTS}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: sampleBody,
      });
      await res.arrayBuffer();
    }
  }),
);
const bareRate = total / ((performance.now() - bareStarted) / 1000);

// Bare durable outbox: the same events and fan-out, each change and its jobs in one transaction.
const outbox = bareOutbox(join(dataDir, "outbox.db"), { concurrency, secret: "bench-token" });
const outboxUrls = hookIds.map((_, i) => `${receiverUrl}/outbox/${i}`);
const outboxStarted = performance.now();
const outboxSending = outbox.run(() => outboxReceived >= total);
for (let i = 0; i < events; i++) {
  outbox.record(sampleBody, outboxUrls);
  if (i % 50 === 49) await Bun.sleep(0);
}
await outboxSending;
const outboxRate = total / ((performance.now() - outboxStarted) / 1000);
outbox.close();

// 2. Latency at a moderate rate.
async function atModerateRate(): Promise<number[]> {
  latencies = [];
  const base = received;
  for (let s = 0; s < RATE_SECONDS * RATE_EVENTS_PER_S; s++) {
    await emit();
    await Bun.sleep(1000 / RATE_EVENTS_PER_S);
  }
  await waitForDeliveries(base + RATE_SECONDS * RATE_EVENTS_PER_S * ENDPOINTS, 60_000);
  // A copy: later phases keep recording into `latencies`.
  return latencies.slice();
}
const calm = await atModerateRate();

// 3. The same with a slow and a dead endpoint in the fan-out.
const slow = await service.endpoints.create({ name: "slow", url: `${receiverUrl}/slow`, timeout_seconds: 10 }, null);
const dead = await service.endpoints.create({ name: "dead", url: "http://127.0.0.1:9/dead", timeout_seconds: 5 }, null);
await service.triggers.update(trigger.id, { webhook_ids: [...hookIds, slow.row.id, dead.row.id] }, null);
const stressed = await atModerateRate();
const slowInFlight = (await ctx.delivery.listJobs({ destination: `webhook:${slow.row.id}`, limit: 500 })).filter(
  (j) => j.status !== "succeeded",
).length;

// 4. Fan-out against a receiver answering in 5 ms, webhooks and then the bare loop.
const LAN_EVENTS = 500;
await service.triggers.update(trigger.id, { active: false }, null);
const lanIds: number[] = [];
for (let i = 0; i < ENDPOINTS; i++)
  lanIds.push((await service.endpoints.create({ name: `lan ${i}`, url: `${receiverUrl}/lan/h/${i}` }, null)).row.id);
await service.triggers.create({ name: "lan", events: ["organization.created"], webhook_ids: lanIds }, null);
const lanBase = received;
const lanStarted = performance.now();
for (let i = 0; i < LAN_EVENTS; i++) {
  await emit();
  if (i % 50 === 49) await Bun.sleep(0);
}
await waitForDeliveries(lanBase + LAN_EVENTS * ENDPOINTS, 120_000);
const lanRate = (LAN_EVENTS * ENDPOINTS) / ((performance.now() - lanStarted) / 1000);
next = 0;
const lanTotal = LAN_EVENTS * ENDPOINTS;
const lanBareStarted = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < lanTotal) {
      const i = next++;
      const res = await fetch(`${receiverUrl}/lan/bare/${i % ENDPOINTS}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: sampleBody,
      });
      await res.arrayBuffer();
    }
  }),
);
const lanBareRate = lanTotal / ((performance.now() - lanBareStarted) / 1000);

const mem2 = memory();
const heapGrowth = mb(mem2.heapUsed - mem0.heapUsed);
const p50 = quantile(calm, 0.5);
const p99 = quantile(calm, 0.99);
const sp50 = quantile(stressed, 0.5);
const sp99 = quantile(stressed, 0.99);

await server.stop();
receiver.stop(true);
rmSync(dataDir, { recursive: true, force: true });

console.log(
  `deliveries: ${total} in ${webhookSeconds.toFixed(1)} s through webhooks; ` +
    `bare fetch loop at concurrency ${concurrency}`,
);
console.log(
  `heap used: start ${mb(mem0.heapUsed)} MB, after ${total} deliveries ${mb(mem1.heapUsed)} MB, ` +
    `at end ${mb(mem2.heapUsed)} MB; rss ${mb(mem0.rss)} → ${mb(mem2.rss)} MB; ` +
    `samples during the run (MB): ${memSamples.map(mb).join(" ")}`,
);
console.log(
  `slow endpoint: ${slowInFlight} deliveries still queued or failing at the end ` +
    `(it holds at most ${ctx.delivery.options.destinationConcurrency} of ${concurrency} send slots)`,
);
console.log(`RESULT webhooks ${webhookRate.toFixed(0)} deliveries/s ratio=${(webhookRate / bareRate).toFixed(2)}`);
console.log(
  `RESULT webhooks_vs_outbox ${webhookRate.toFixed(0)} deliveries/s ratio=${(webhookRate / outboxRate).toFixed(2)}`,
);
console.log(`RESULT webhooks_bare_outbox ${outboxRate.toFixed(0)} deliveries/s ratio=1.00`);
console.log(`RESULT webhooks_bare_fetch ${bareRate.toFixed(0)} requests/s ratio=1.00`);
console.log(`RESULT webhooks_latency_p50 ${p50.toFixed(1)} ms ratio=${(p50 / 25).toFixed(2)}`);
console.log(`RESULT webhooks_latency_p99 ${p99.toFixed(1)} ms ratio=${(p99 / 25).toFixed(2)}`);
console.log(
  `RESULT webhooks_5ms_receiver ${lanRate.toFixed(0)} deliveries/s ratio=${(lanRate / lanBareRate).toFixed(2)}`,
);
console.log(`RESULT webhooks_5ms_receiver_bare_fetch ${lanBareRate.toFixed(0)} requests/s ratio=1.00`);
const heapRatio = (mem2.heapUsed / mem0.heapUsed).toFixed(2);
console.log(`RESULT webhooks_heap_growth_${Math.round(total / 1000)}k ${heapGrowth} MB ratio=${heapRatio}`);
console.log(`RESULT webhooks_latency_p50_with_slow_and_dead ${sp50.toFixed(1)} ms ratio=${(sp50 / p50).toFixed(2)}`);
console.log(`RESULT webhooks_latency_p99_with_slow_and_dead ${sp99.toFixed(1)} ms ratio=${(sp99 / p99).toFixed(2)}`);
