import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json";
import { migrations as embedded } from "../../src/db/migrations.generated";
import { BUN, ROOT, run, ServerProcess } from "../support/process";
import { ADMIN, Browser, createToken, signIn, tempDir } from "../support/server";

setDefaultTimeout(60_000);

/**
 * The compiled binary, built once with the package's own "build" script (only the output path
 * changed, so the test never touches dist/), and run from an empty directory.
 */
const buildDir = tempDir("switchboard-build-");
const binary = join(buildDir, "switchboard");
const runDir = tempDir("switchboard-bin-run-");
let server: ServerProcess | undefined;

beforeAll(async () => {
  const args = pkg.scripts.build.split(/\s+/);
  expect(args[0]).toBe("bun");
  const out = args.indexOf("--outfile");
  expect(args[out + 1]).toBe("dist/switchboard");
  args[out + 1] = binary;
  const r = await run([BUN, ...args.slice(1)], { cwd: ROOT, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`build failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
}, 150_000);

afterAll(async () => {
  await server?.kill();
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(runDir, { recursive: true, force: true });
});

describe("the compiled binary", () => {
  test("is a standalone executable", () => {
    expect(statSync(binary).mode & 0o111).not.toBe(0);
  });

  test("answers version and --help", async () => {
    const version = await run([binary, "version"], { cwd: runDir });
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(`switchboard ${pkg.version}`);
    const help = await run([binary, "--help"], { cwd: runDir });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--data-dir");
    expect(readdirSync(runDir)).toEqual([]); // neither created anything
  });

  test("starts from an empty directory with a fresh data dir and serves the first-run pages", async () => {
    expect(readdirSync(runDir)).toEqual([]);
    server = await ServerProcess.start([binary, "--port", "0"], { cwd: runDir });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toEndWith(":0");

    const health = await fetch(server.url + "/healthz");
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", version: pkg.version });

    for (const path of ["/", "/login"]) {
      const res = await fetch(server.url + path, { redirect: "manual" });
      expect(res.status, path).toBe(303);
      expect(res.headers.get("location"), path).toBe("/setup");
    }
    const setup = await fetch(server.url + "/setup");
    expect(setup.status).toBe(200);
    const page = await setup.text();
    expect(page).toContain("Welcome to Switchboard");
    expect(page).toContain('name="_csrf"');

    // Views and assets come from inside the binary.
    const css = await fetch(server.url + "/assets/app.css");
    expect(css.status).toBe(200);
    expect(await css.text()).toContain(".card");
    const htmx = await fetch(server.url + "/assets/htmx.min.js");
    expect(htmx.status).toBe(200);
    expect((await htmx.text()).length).toBeGreaterThan(10_000);

    // The data directory was created beside it, with the embedded migrations applied.
    expect(readdirSync(join(runDir, "data")).sort()).toEqual(
      expect.arrayContaining(["secret.key", "switchboard.db", "switchboard.lock"]),
    );
    const db = new Database(join(runDir, "data", "switchboard.db"), { readonly: true });
    try {
      expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM __drizzle_migrations").get()!.n).toBe(
        embedded.length,
      );
    } finally {
      db.close();
    }
  });

  test("runs the first-run setup and signs in", async () => {
    const browser = new Browser(server!.url);
    const res = await browser.submit("/setup", "/setup", { email: ADMIN.email, password: ADMIN.password });
    expect(res.status).toBe(303);
    const dash = await browser.get("/");
    expect(dash.status).toBe(200);
    expect(await dash.text()).toContain("Dashboard");
    const login = await fetch(server!.url + "/login");
    expect(login.status).toBe(200);
    expect(await login.text()).toContain("Sign in");
    await signIn(server!);
  });

  test("checkpoints the WAL on its worker thread (an entry point the build embeds)", async () => {
    const token = await createToken(await signIn(server!));
    const moved = () => server!.logs.some((l) => l.msg === "wal checkpoints moved to a worker thread");
    for (let i = 0; i < 2000 && !moved(); i++) {
      const res = await fetch(`${server!.url}/api/v1/users`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ email: `wal-${i}@example.com` }),
      });
      expect(res.status).toBe(201);
    }
    expect(moved()).toBe(true);
    // The worker answered (the write connection's automatic checkpoint is off only then) and keeps running.
    await Bun.sleep(500);
    expect(server!.logs.filter((l) => l.msg === "wal checkpoints back on the main thread")).toEqual([]);
  });

  test("stops cleanly on SIGTERM", async () => {
    expect(await server!.stop("SIGTERM")).toBe(0);
    expect(server!.logs.at(-1)?.msg).toBe("switchboard stopped");
    expect(existsSync(join(runDir, "data", "switchboard.lock"))).toBe(false);
  });

  test("starts again without reading every page and stays under 80 MiB of memory throughout", async () => {
    server = await ServerProcess.start([binary, "--port", "0"], { cwd: runDir });
    const listening = server.logs.find((l) => l.msg === "switchboard listening");
    expect(listening?.pages_checked).toBe("no: unchanged since a clean stop");
    expect((await fetch(server.url + "/healthz")).status).toBe(200);
    await Bun.sleep(2000);
    // The highest resident memory since the process began (Linux).
    const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.proc.pid}/status`, "utf8"))?.[1]);
    expect(peakKiB / 1024).toBeLessThan(80);
    expect(await server.stop("SIGTERM")).toBe(0);
  });
});
