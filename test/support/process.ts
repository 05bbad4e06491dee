import type { Subprocess } from "bun";
import { join, resolve } from "node:path";

/** The repository root and the CLI entry point, wherever the tests are run from. */
export const ROOT = resolve(import.meta.dir, "../..");
export const MAIN = join(ROOT, "src/main.ts");

/** The bun binary running the tests (under `bun test`, process.execPath is bun itself). */
export const BUN = process.execPath;

/** The environment without any SWITCHBOARD_* setting the machine running the tests may have. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("SWITCHBOARD_")) env[k] = v;
  return { ...env, ...extra };
}

export type CliResult = { code: number; stdout: string; stderr: string };

/** Runs a command to its end (killing it after `timeoutMs`) and returns its exit code and output. */
export async function run(
  cmd: string[],
  opts: { cwd?: string; env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? ROOT,
    env: cleanEnv(opts.env),
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `bun src/main.ts <args>`: the CLI exactly as `npm start` runs it. */
export function runCli(args: string[], opts: Parameters<typeof run>[1] = {}): Promise<CliResult> {
  return run([BUN, MAIN, ...args], opts);
}

/** Collects a stream's text line by line as it arrives, so a test can wait for a line. */
class LineCollector {
  lines: string[] = [];
  private partial = "";
  private waiters: (() => void)[] = [];
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      const decoder = new TextDecoder();
      const reader = stream.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.push(decoder.decode(value, { stream: true }));
      }
      if (this.partial) this.lines.push(this.partial);
      this.partial = "";
      this.wake();
    })();
  }

  private push(text: string) {
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop()!;
    this.lines.push(...parts);
    this.wake();
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get text() {
    return this.lines.join("\n") + (this.partial ? `\n${this.partial}` : "");
  }
}

/**
 * A Switchboard server running as its own process (from source or the compiled binary), started
 * with --port 0: the real URL is read from the "switchboard listening" JSON log line.
 */
export class ServerProcess {
  private constructor(
    readonly proc: Subprocess<"ignore", "pipe", "pipe">,
    readonly stdout: LineCollector,
    readonly stderr: LineCollector,
    readonly url: string,
  ) {}

  static async start(
    cmd: string[],
    opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<ServerProcess> {
    const proc = Bun.spawn(cmd, {
      cwd: opts.cwd ?? ROOT,
      env: cleanEnv(opts.env),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const stdout = new LineCollector(proc.stdout);
    const stderr = new LineCollector(proc.stderr);
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    const exited = proc.exited.then(() => "exited" as const);
    for (;;) {
      const listening = stdout.lines.map(parseJson).find((l) => l?.msg === "switchboard listening");
      if (listening) return new ServerProcess(proc, stdout, stderr, String(listening.url));
      const remaining = deadline - Date.now();
      const outcome = await Promise.race([stdout.changed(), exited, Bun.sleep(Math.max(0, Math.min(remaining, 500)))]);
      if (outcome === "exited" || proc.exitCode !== null) {
        await Promise.all([stdout.done, stderr.done]);
        throw new Error(
          `server exited with ${proc.exitCode} before listening\nstdout:\n${stdout.text}\nstderr:\n${stderr.text}`,
        );
      }
      if (remaining <= 0) {
        proc.kill("SIGKILL");
        throw new Error(`server did not report listening in time\nstdout:\n${stdout.text}\nstderr:\n${stderr.text}`);
      }
    }
  }

  /** Every stdout line that is JSON, parsed. */
  get logs(): Record<string, unknown>[] {
    return this.stdout.lines.map(parseJson).filter((l): l is Record<string, unknown> => l !== undefined);
  }

  /** Sends a signal and waits for the process to end; returns its exit code. */
  async stop(signal: "SIGTERM" | "SIGINT" = "SIGTERM", timeoutMs = 15_000): Promise<number> {
    if (this.proc.exitCode === null) this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    try {
      const code = await this.proc.exited;
      await Promise.all([this.stdout.done, this.stderr.done]);
      return code;
    } finally {
      clearTimeout(timer);
    }
  }

  /** For afterAll: make sure the process is gone, whatever happened in the test. */
  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGKILL");
      await this.proc.exited;
    }
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(line);
    return v && typeof v === "object" ? v : undefined;
  } catch {
    return undefined;
  }
}
