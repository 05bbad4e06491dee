/**
 * bench/rest-writes: REST creates (POST /api/v1/users) alone, at concurrency 16, against the real
 * server in its own process: creates per second, answer latency and the server's CPU per create.
 * Run: npx bun bench/rest-writes.ts   (CONCURRENCY, SECONDS to change the load)
 */
import { readFileSync } from "node:fs";
import { fmt, load } from "./support/load";
import { startSwitchboard } from "./support/switchboard";

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const SECONDS = Number(process.env.SECONDS ?? 10);

/** utime + stime of a process in milliseconds (Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

const sb = await startSwitchboard();
const cpu0 = cpuMs(sb.pid);
const result = await load({
  concurrency: CONCURRENCY,
  seconds: SECONDS,
  request: (i) =>
    fetch(`${sb.url}/api/v1/users`, {
      method: "POST",
      headers: { authorization: `Bearer ${sb.token}`, "content-type": "application/json" },
      body: JSON.stringify({ email: `w${i}@bench.example`, firstname: "Bench", lastname: `Person ${i}` }),
    }),
});
const cpuPerCreate = (cpuMs(sb.pid) - cpu0) / result.requests;
await sb.stop();
console.log(
  `concurrency ${CONCURRENCY}: ${result.requests} creates, answer p50 ${fmt(result.p50)} ms p99 ${fmt(result.p99)} ms, ` +
    `CPU ${fmt(cpuPerCreate, 2)} ms/create, errors ${result.errors}`,
);
console.log(`RESULT rest_writes ${fmt(result.rps, 0)} creates/s`);
console.log(`RESULT rest_writes_cpu_per_create ${fmt(cpuPerCreate, 2)} ms`);
if (result.errors) process.exitCode = 1;
