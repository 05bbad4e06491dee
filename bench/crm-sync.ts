/**
 * bench/crm-sync: 10k people created, then each updated twice, synced to a local receiver through
 * the real server (planner on the event feed, delivery engine, HTTP log). Compared in the same run
 * with a bare fetch loop sending the same number of calls. Checks per-person order and reports how
 * many update calls were left after collapsing.
 *
 *   npx bun bench/crm-sync.ts [people]
 */
import { selfTargetCheck } from "../src/http/addresses";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config";
import { createSync, destinationOf } from "../src/crm-sync/config";
import { listCustomFields } from "../src/domain/custom-fields";
import { createUserIn, getUserRow, updateUserIn } from "../src/domain/users";
import { createLogger } from "../src/log";
import { startServer } from "../src/server";

const PEOPLE = Number(process.argv[2] ?? 10_000);
const BATCH = 500;
const DEADLINE_MS = 150_000;

type Seen = { method: string; userId: number; version: number; at: number };
const seen: Seen[] = [];
let nextId = 1;
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const body =
      req.method === "POST" || req.method === "PUT" ? ((await req.json()) as { sb_id: number; version: string }) : null;
    if (body)
      seen.push({ method: req.method, userId: body.sb_id, version: Number(body.version.slice(1)), at: seen.length });
    if (req.method === "POST") return Response.json({ id: nextId++ }, { status: 201 });
    return new Response("ok");
  },
});
const target = `http://127.0.0.1:${receiver.port}`;

// --- Switchboard ---------------------------------------------------------------------------------
const dataDir = mkdtempSync(join(tmpdir(), "switchboard-bench-"));
const server = await startServer(
  loadConfig({ host: "127.0.0.1", port: "0", dataDir, logLevel: "error" }, {}),
  createLogger("error", () => {}),
);
const { ctx } = server;
const data =
  '{"sb_id": {{ person.id }}, "name": "{{ person.name }}", "email": "{{ person.email }}", ' +
  '"version": "{{ person.last_name }}"}';
const sync = await createSync(
  { db: ctx.db, secrets: ctx.secrets, delivery: ctx.delivery, selfTarget: selfTargetCheck(ctx) },
  {
    name: "bench",
    create: { unique_id_path: "$.id", url: `${target}/people`, data },
    update: { enabled: true, url: `${target}/people/{{external_id}}`, data },
  },
);
const fields = await listCustomFields(ctx.db, "user");
const actor = { id: null, source: "api" as const };
const pendingCalls = () =>
  (
    ctx.db.$client
      .query("SELECT COUNT(*) AS n FROM delivery_jobs WHERE destination = ? AND status IN ('pending', 'running')")
      .get(destinationOf(sync.id)) as { n: number }
  ).n;

// CPU time beside wall time: on a shared machine the wall clock also counts other processes' turns.
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const started = performance.now();
const cpuAtStart = cpuSeconds();
const ids: number[] = [];
for (let b = 0; b < PEOPLE; b += BATCH) {
  await ctx.db.transaction(async (tx) => {
    for (let i = b; i < Math.min(PEOPLE, b + BATCH); i++)
      ids.push(
        (
          await createUserIn(
            tx,
            ctx.events,
            { email: `p${i}@bench.example`, firstname: `Person ${i}`, lastname: "v0" },
            fields,
            actor,
          )
        ).id,
      );
  });
  await Bun.sleep(0);
}
for (const version of [1, 2]) {
  for (let b = 0; b < ids.length; b += BATCH) {
    await ctx.db.transaction(async (tx) => {
      for (const id of ids.slice(b, b + BATCH))
        await updateUserIn(tx, ctx.events, await getUserRow(tx, id), { lastname: `v${version}` }, fields, actor);
    });
    await Bun.sleep(0);
  }
}
const plannedAt = performance.now();
const cpuPlanning = cpuSeconds() - cpuAtStart;
while (pendingCalls() > 0) {
  if (performance.now() - started > DEADLINE_MS)
    throw new Error(`not drained within ${DEADLINE_MS} ms: ${pendingCalls()} calls left`);
  await Bun.sleep(20);
}
const engineMs = performance.now() - started;
const cpuEngine = cpuSeconds() - cpuAtStart;
const calls = seen.length;
const creates = seen.filter((s) => s.method === "POST").length;
const updates = calls - creates;
const failed = (
  ctx.db.$client
    .query("SELECT COUNT(*) AS n FROM delivery_jobs WHERE destination = ? AND status = 'failed'")
    .get(destinationOf(sync.id)) as { n: number }
).n;

// Per-person order: the create first, versions never going back, and the last call carrying v2.
let violations = 0;
const byUser = new Map<number, Seen[]>();
for (const s of seen) byUser.set(s.userId, [...(byUser.get(s.userId) ?? []), s]);
for (const id of ids) {
  const list = byUser.get(id) ?? [];
  if (!list.length || list[0]!.method !== "POST" || list.slice(1).some((s) => s.method !== "PUT")) violations++;
  else if (list.some((s, i) => i > 0 && s.version < list[i - 1]!.version) || list.at(-1)!.version !== 2) violations++;
}
// Sending throughput alone: "sync all" queues an update per person while the sync is held, then is timed to drain.
await ctx.delivery.pauseDestination(destinationOf(sync.id), null, "bench: planning");
const bulk = await server.features.crmSync.service.planner.syncAll(sync.id);
const sendStart = performance.now();
const cpuAtSend = cpuSeconds();
const seenBefore = seen.length;
await ctx.delivery.enableDestination(destinationOf(sync.id));
while (pendingCalls() > 0) {
  if (performance.now() - started > DEADLINE_MS)
    throw new Error(`not drained within ${DEADLINE_MS} ms: ${pendingCalls()} calls left`);
  await Bun.sleep(5);
}
const sendMs = performance.now() - sendStart;
const cpuSend = cpuSeconds() - cpuAtSend;
const sendCalls = seen.length - seenBefore;
if (sendCalls !== bulk.updates) throw new Error(`sync all queued ${bulk.updates} updates but ${sendCalls} arrived`);
await server.stop();
rmSync(dataDir, { recursive: true, force: true });

// --- Bare fetch loops, same number of calls, same receiver ---------------------------------------
const body = JSON.stringify({ sb_id: 0, name: "Person 0", email: "p0@bench.example", version: "v0" });
async function loop(n: number, concurrency: number): Promise<number> {
  let i = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < n) {
        const k = i++;
        const res = await fetch(k % 3 === 0 ? `${target}/people` : `${target}/people/1`, {
          method: k % 3 === 0 ? "POST" : "PUT",
          headers: { "content-type": "application/json" },
          body,
        });
        await res.text();
      }
    }),
  );
  return performance.now() - t0;
}
const before = seen.length;
const bareSeqMs = await loop(calls, 1);
const bareConcMs = await loop(calls, ctx.delivery.options.destinationConcurrency);
void before;
receiver.stop(true);

const rate = (n: number, ms: number) => (n * 1000) / ms;
const engineRate = rate(calls, engineMs);
const bareSeqRate = rate(calls, bareSeqMs);
const bareConcRate = rate(calls, bareConcMs);
const seconds = (ms: number) => (ms / 1000).toFixed(1);
console.log(
  `people=${PEOPLE} calls=${calls} creates=${creates} updates=${updates} ` +
    `(of ${2 * PEOPLE} update events) failed=${failed}`,
);
console.log(
  `switchboard: ${seconds(engineMs)} s (planning ${seconds(plannedAt - started)} s) = ${engineRate.toFixed(0)} calls/s`,
);
console.log(
  `bare fetch loop: sequential ${bareSeqRate.toFixed(0)} calls/s, ` +
    `${ctx.delivery.options.destinationConcurrency} concurrent ${bareConcRate.toFixed(0)} calls/s`,
);
console.log(
  `switchboard CPU: ${cpuEngine.toFixed(1)} s (planning ${cpuPlanning.toFixed(1)} s) = ` +
    `${((cpuEngine * 1000) / calls).toFixed(2)} ms per call; sending alone ${((cpuSend * 1000) / sendCalls).toFixed(2)} ms per call`,
);
const sendRate = rate(sendCalls, sendMs);
console.log(`sending alone ("sync all", ${sendCalls} updates): ${seconds(sendMs)} s = ${sendRate.toFixed(0)} calls/s`);
console.log(`RESULT crm-sync ${sendRate.toFixed(0)} calls/s ratio=${(sendRate / bareSeqRate).toFixed(3)}`);
console.log(
  `RESULT crm-sync-end-to-end ${engineRate.toFixed(0)} calls/s ratio=${(engineRate / bareSeqRate).toFixed(3)}`,
);
console.log(
  `RESULT crm-sync-vs-concurrent-fetch ${sendRate.toFixed(0)} calls/s ratio=${(sendRate / bareConcRate).toFixed(3)}`,
);
console.log(`RESULT crm-sync-order-violations ${violations} people ratio=${(violations / PEOPLE).toFixed(4)}`);
console.log(`RESULT crm-sync-update-calls ${updates} calls ratio=${(updates / (2 * PEOPLE)).toFixed(3)}`);
