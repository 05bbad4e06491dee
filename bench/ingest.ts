/**
 * bench/ingest: identify calls per second and p99 latency through /v1/identify (each a durable
 * upsert of a new person plus its event), against a bare Bun server doing one SQLite insert per
 * request, same concurrency, same machine, same run. Run: npx bun bench/ingest.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fmt, load } from "./support/load";
import { startSwitchboard } from "./support/switchboard";

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const SECONDS = Number(process.env.SECONDS ?? 10);

const identify = (run: string, i: number) =>
  JSON.stringify({
    userId: `${run}-${i}`,
    messageId: `${run}-m-${i}`,
    traits: { email: `${run}-${i}@bench.example`, firstName: "Bench", lastName: `Person ${i}`, plan: "pro" },
  });

async function startBare() {
  const dir = mkdtempSync(join(tmpdir(), "bench-bare-"));
  const proc = Bun.spawn(
    [process.execPath, join(import.meta.dir, "support/bare-sqlite-server.ts"), join(dir, "bare.db")],
    { stdout: "pipe" },
  );
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  const url = JSON.parse(new TextDecoder().decode(value).trim().split("\n")[0]!).url as string;
  return {
    url,
    async stop() {
      proc.kill();
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const baseline = await startBare();
const bareResult = await load({
  concurrency: CONCURRENCY,
  seconds: SECONDS,
  request: (i) =>
    fetch(baseline.url, { method: "POST", headers: { "content-type": "application/json" }, body: identify("bare", i) }),
});
await baseline.stop();

const sb = await startSwitchboard();
const auth = `Basic ${Buffer.from(`${sb.writeKey}:`).toString("base64")}`;
const ours = await load({
  concurrency: CONCURRENCY,
  seconds: SECONDS,
  request: (i) =>
    fetch(`${sb.url}/v1/identify`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: auth },
      body: identify("sb", i),
    }),
});
const stored = (await (
  await fetch(`${sb.url}/api/v1/events?after=0&limit=1`, { headers: { authorization: `Bearer ${sb.token}` } })
).json()) as { data: unknown[] };
await sb.stop();

console.log(`concurrency ${CONCURRENCY}, ${SECONDS}s each`);
const summary = (r: typeof ours) =>
  `${fmt(r.rps, 0)} req/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, errors ${r.errors}`;
console.log(`bare    : ${summary(bareResult)}`);
console.log(`identify: ${summary(ours)} (events recorded: ${stored.data.length > 0})`);
console.log(`RESULT ingest ${fmt(ours.rps, 0)} req/s ratio=${fmt(ours.rps / bareResult.rps, 2)}`);
console.log(`RESULT ingest_p99 ${fmt(ours.p99)} ms ratio=${fmt(ours.p99 / bareResult.p99, 2)}`);
if (ours.errors) process.exitCode = 1;
