/**
 * bench/startup: start-up to ready (spawn → "switchboard listening": wall time and CPU time) and
 * resident memory at ready, 2 s later and at its peak (VmHWM), median of RUNS starts of the binary
 * `npm run build` makes (built here with the same flags) on a data directory set up by the first start. Baseline in the
 * same run: a bare Bun HTTP server (spawn → listening), the least a Bun server costs on this machine.
 * CPU time is the steadier figure on a shared machine (wall time waits for a core).
 * Run: npx bun bench/startup.ts   (RUNS to change the count)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const RUNS = Number(process.env.RUNS ?? 7);
const ROOT = resolve(import.meta.dir, "..");
const MiB = 1024 * 1024;

/** utime + stime of a process in milliseconds (Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Resident memory of a process in MiB (Linux): now (VmRSS) or the highest since it began (VmHWM). */
function rssMiB(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): number {
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return (Number(kb) * 1024) / MiB;
}

/** Spawns cmd, waits for a stdout line containing `ready`; ms to it, RSS then and 2 s later, the peak. */
async function start(cmd: string[], ready: string) {
  const t0 = performance.now();
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes(ready)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`exited before ready:\n${text}`);
    text += decoder.decode(value, { stream: true });
  }
  const ms = performance.now() - t0;
  const cpu = cpuMs(proc.pid);
  const atReady = rssMiB(proc.pid);
  // Keep draining stdout so the process never blocks on its pipe.
  void (async () => {
    while (!(await reader.read()).done);
  })();
  await Bun.sleep(2000);
  const after2s = rssMiB(proc.pid);
  const peak = rssMiB(proc.pid, "VmHWM");
  proc.kill("SIGTERM");
  await proc.exited;
  return { ms, cpu, atReady, after2s, peak };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function series(cmd: string[], ready: string) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await start(cmd, ready));
  return {
    ms: median(runs.map((r) => r.ms)),
    cpu: median(runs.map((r) => r.cpu)),
    atReady: median(runs.map((r) => r.atReady)),
    after2s: median(runs.map((r) => r.after2s)),
    peak: Math.max(...runs.map((r) => r.peak)),
  };
}

const bareScript =
  'const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });' +
  'console.log("listening", s.port);';
const bare = await series([process.execPath, "-e", bareScript], "listening");

const dataDir = mkdtempSync(join(tmpdir(), "switchboard-bench-startup-"));
// The binary as `npm run build` makes it, into the scratch directory.
const build = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.build as string).split(" ");
const binary = join(dataDir, "switchboard");
const built = Bun.spawnSync(
  [process.execPath, ...build.slice(1).map((a, i, all) => (all[i - 1] === "--outfile" ? binary : a))],
  { cwd: ROOT, stdout: "ignore", stderr: "inherit" },
);
if (!built.success) throw new Error("build failed");
const serve = [binary, "serve", "--port", "0", "--data-dir", join(dataDir, "data")];
await start(serve, "switchboard listening"); // the first start creates and migrates the database
const ours = await series(serve, "switchboard listening");
rmSync(dataDir, { recursive: true, force: true });

const f = (n: number) => n.toFixed(0);
console.log(
  `bare Bun server: ready ${f(bare.ms)} ms (CPU ${f(bare.cpu)} ms), RSS ${f(bare.atReady)} MiB, after 2 s ${f(bare.after2s)} MiB`,
);
console.log(
  `switchboard: ready ${f(ours.ms)} ms (CPU ${f(ours.cpu)} ms), RSS ${f(ours.atReady)} MiB, after 2 s ${f(ours.after2s)} MiB, ` +
    `highest (VmHWM) ${f(ours.peak)} MiB (median of ${RUNS} starts)`,
);
console.log(`RESULT startup ${f(ours.ms)} ms ratio=${(ours.ms / bare.ms).toFixed(2)}`);
console.log(`RESULT startup_cpu ${f(ours.cpu)} ms ratio=${(ours.cpu / bare.cpu).toFixed(2)}`);
console.log(`RESULT startup_rss ${f(ours.peak)} MiB ratio=${(ours.peak / bare.peak).toFixed(2)}`);
