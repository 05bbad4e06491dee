import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Browser, createToken, signIn } from "../../test/support/server";

const ROOT = resolve(import.meta.dir, "../..");

const ADMIN = { email: "bench@example.com", password: "benchmark-password" };

/**
 * Switchboard as a separate process (as in production), with an admin, an API token and a write key;
 * `copyOf` starts it on a copy of a data directory a previous run set up (its admin signs in).
 */
export async function startSwitchboard(extraArgs: string[] = [], copyOf?: string) {
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-bench-"));
  if (copyOf) cpSync(copyOf, dataDir, { recursive: true });
  const { url, proc } = await spawnServe(["--data-dir", dataDir, ...extraArgs]);
  // A set-up failure must not leave the server running (and the bench hanging on its pipe).
  try {
    return await withCredentials(url, dataDir, proc, copyOf !== undefined);
  } catch (err) {
    proc.kill("SIGTERM");
    throw err;
  }
}

/**
 * `switchboard serve --port 0 <args>` as a process of its own, once it listens; `onLog` sees its later log lines.
 * BENCH_CPU_PROF=<dir> runs it under Bun's CPU profiler (a .cpuprofile and a markdown summary in dir at stop).
 */
export async function spawnServe(args: string[], onLog?: (line: string) => void) {
  const profileDir = process.env.BENCH_CPU_PROF;
  const profile = profileDir ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${profileDir}`] : [];
  const proc = Bun.spawn([process.execPath, ...profile, join(ROOT, "src/main.ts"), "serve", "--port", "0", ...args], {
    stdout: "pipe",
    stderr: "inherit",
  });
  return { url: await listeningUrl(proc.stdout, onLog), proc };
}

async function withCredentials(url: string, dataDir: string, proc: ReturnType<typeof Bun.spawn>, setUp: boolean) {
  const { token, writeKey } = await credentials(url, setUp);
  return {
    url,
    pid: proc.pid,
    token,
    writeKey,
    dataDir,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sets the admin up (or signs in with `signInOnly`), then makes an API token and a Segment write key. */
export async function credentials(url: string, signInOnly = false) {
  let browser = new Browser(url);
  if (signInOnly) browser = await signIn({ url }, ADMIN.email, ADMIN.password);
  else await browser.submit("/setup", "/setup", ADMIN);
  const token = await createToken(browser, "bench");
  const writeKey = (
    await (
      await fetch(`${url}/api/v1/write_keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: '{"name":"bench"}',
      })
    ).json()
  ).key as string;
  return { token, writeKey };
}

/** Reads the process's JSON log until "switchboard listening", then keeps draining it so the pipe never blocks. */
async function listeningUrl(stdout: ReadableStream<Uint8Array>, onLog?: (line: string) => void): Promise<string> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error("switchboard exited before listening");
    buffer += decoder.decode(value, { stream: true });
    const line = buffer.split("\n").find((l) => l.includes('"switchboard listening"'));
    if (line) {
      void (async () => {
        let rest = buffer.slice(buffer.indexOf(line) + line.length + 1);
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          if (!onLog) continue;
          const lines = (rest + decoder.decode(value, { stream: true })).split("\n");
          rest = lines.pop()!;
          for (const l of lines) onLog(l);
        }
      })();
      return JSON.parse(line).url;
    }
  }
}
