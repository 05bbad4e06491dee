import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { startApi } from "../support/api";
import { BUN, MAIN, ServerProcess } from "../support/process";
import pkg from "../../package.json";
import { ADMIN, Browser, setupAdmin, signIn, startTestServer, tempDir, type TestServer } from "../support/server";
import { cutOffPostgres, fillPostgres, TEST_STORE, testDatabaseUrl } from "../support/store";

setDefaultTimeout(30_000);

type LogLine = Record<string, unknown> & { time: string; level: string; msg: string };
const parsed = (server: TestServer): LogLine[] => server.logs.map((l) => JSON.parse(l));

describe("health and metrics", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  test("/healthz answers ok without a sign-in, naming the node and the kind of database", async () => {
    const res = await fetch(server.url + "/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: "ok",
      database: "ok",
      database_kind: TEST_STORE,
      node: `${hostname()}:${resolve(server.dataDir)}`,
    });
  });

  test("/metrics counts requests by method, route and status, with a latency histogram", async () => {
    for (let i = 0; i < 3; i++) await fetch(server.url + "/healthz");
    await fetch(server.url + "/no-such-page");
    await fetch(server.url + "/api/v1/admins");
    const res = await fetch(server.url + "/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    const text = await res.text();
    // Every series carries the node's name first (several nodes behind one Prometheus).
    const node = `node="${server.ctx.nodeId}"`;
    const withNode = (series: string) =>
      series.includes("{") ? series.replace("{", `{${node},`) : `${series}{${node}}`;
    const value = (series: string) =>
      Number(
        text
          .split("\n")
          .find((l) => l.startsWith(withNode(series) + " "))
          ?.split(" ")[1],
      );
    const samples = text.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(samples.filter((l) => !l.includes(`{${node}`))).toEqual([]);
    expect(value('switchboard_http_requests_total{method="GET",route="/healthz",status="200"}')).toBeGreaterThanOrEqual(
      3,
    );
    expect(value('switchboard_http_requests_total{method="GET",route="/api/v1/admins",status="401"}')).toBe(1);
    expect(value('switchboard_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(text).toContain("# TYPE switchboard_http_request_duration_seconds histogram");
    expect(
      value('switchboard_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="+Inf"}'),
    ).toBeGreaterThanOrEqual(3);
    expect(
      value('switchboard_http_request_duration_seconds_count{method="GET",route="/healthz"}'),
    ).toBeGreaterThanOrEqual(3);
    expect(value('switchboard_http_request_duration_seconds_sum{method="GET",route="/healthz"}')).toBeGreaterThan(0);
    expect(value("switchboard_uptime_seconds")).toBeGreaterThanOrEqual(0);
  });

  test("routes are labelled by their pattern, not the raw path (bounded label values)", async () => {
    await fetch(server.url + "/api/v1/tokens/12345", { method: "DELETE" });
    const text = await (await fetch(server.url + "/metrics")).text();
    expect(text).toContain('route="/api/v1/tokens/:id"');
    expect(text).not.toContain("12345");
  });
});

describe("/healthz with a broken database", () => {
  test("answers 503", async () => {
    const databaseUrl = await testDatabaseUrl();
    const server = await startTestServer({ databaseUrl });
    try {
      if (databaseUrl) await cutOffPostgres(databaseUrl);
      else server.ctx.db.$client.close();
      const res = await fetch(server.url + "/healthz");
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: "error", database: "unavailable" });
      expect(parsed(server).some((l) => l.msg === "health check failed" && l.level === "error")).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe("request logs", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  test("one JSON line per request with its request_id, echoed as X-Request-Id", async () => {
    const res = await fetch(server.url + "/healthz?probe=1");
    const id = res.headers.get("x-request-id")!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const line = parsed(server).find((l) => l.msg === "request" && l.request_id === id)!;
    expect(line).toMatchObject({
      level: "info",
      method: "GET",
      path: "/healthz",
      route: "/healthz",
      status: 200,
      ip: "127.0.0.1",
    });
    expect(typeof line.duration_ms).toBe("number");
    expect(new Date(line.time).toISOString()).toBe(line.time);
    // Every line on stdout is one JSON object.
    for (const raw of server.logs) {
      expect(raw.endsWith("\n")).toBe(true);
      expect(raw.trimEnd()).not.toContain("\n");
      expect(() => JSON.parse(raw)).not.toThrow();
    }
  });

  test("a client-supplied X-Request-Id is kept; an unsafe one is replaced", async () => {
    const mine = await fetch(server.url + "/healthz", { headers: { "x-request-id": "trace-abc.123_X" } });
    expect(mine.headers.get("x-request-id")).toBe("trace-abc.123_X");
    expect(parsed(server).some((l) => l.request_id === "trace-abc.123_X" && l.path === "/healthz")).toBe(true);
    for (const bad of ["has spaces in it", "x".repeat(65), 'quote"d']) {
      const res = await fetch(server.url + "/healthz", { headers: { "x-request-id": bad } });
      expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  test("errors, 413s and unknown routes are logged and carry an id too", async () => {
    const res = await fetch(server.url + "/api/v1/admins", { method: "POST", body: "x".repeat(2 * 1024 * 1024) });
    expect(res.status).toBe(413);
    const id = res.headers.get("x-request-id");
    expect(parsed(server).find((l) => l.request_id === id)).toMatchObject({ status: 413, path: "/api/v1/admins" });
  });

  test("passwords and session tokens never reach the log", async () => {
    const browser = await setupAdmin(server);
    await browser.submit("/", "/logout", {});
    await new Browser(server.url).submit("/login", "/login", {
      email: ADMIN.email,
      password: "a wrong password guess",
    });
    const all = server.logs.join("");
    expect(all).not.toContain(ADMIN.password);
    expect(all).not.toContain("a wrong password guess");
    expect(all).toContain("sign-in failed");
  });

  test("responses carry the security headers", async () => {
    const res = await fetch(server.url + "/login");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  });

  test("the dashboard shows the real public URL when started on port 0", async () => {
    const browser = await signIn(server);
    const page = (await (await browser.get("/")).text()).replaceAll("&#x2F;", "/");
    expect(page).toContain(`Switchboard 0.1.0 · ${server.url}<`.replace("0.1.0", pkg.version));
  });
});

describe("graceful shutdown of the real process", () => {
  const dirs: string[] = [];
  const processes: ServerProcess[] = [];
  afterEach(async () => {
    for (const p of processes.splice(0)) await p.kill();
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const serve = async () => {
    const dir = tempDir("switchboard-ops-");
    dirs.push(dir);
    const dataDir = join(dir, "data");
    const databaseUrl = await testDatabaseUrl();
    const store = databaseUrl ? ["--database-url", databaseUrl] : [];
    const p = await ServerProcess.start([BUN, MAIN, "--port", "0", "--data-dir", dataDir, ...store]);
    processes.push(p);
    return { p, dataDir };
  };

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} exits 0, logs "switchboard stopped" and removes the lock file`, async () => {
      const { p, dataDir } = await serve();
      expect(existsSync(join(dataDir, "switchboard.lock"))).toBe(true);
      // An idle keep-alive connection must not hold the shutdown up.
      expect((await fetch(p.url + "/healthz")).status).toBe(200);
      expect(await p.stop(signal)).toBe(0);
      const msgs = p.logs.map((l) => l.msg);
      expect(p.logs.find((l) => l.msg === "shutting down")?.signal).toBe(signal);
      expect(msgs.at(-1)).toBe("switchboard stopped");
      expect(existsSync(join(dataDir, "switchboard.lock"))).toBe(false);
      expect(p.stderr.text).toBe("");
    });
  }

  test("SIGTERM lets an in-flight request finish before the process exits", async () => {
    const { p } = await serve();
    const url = new URL(p.url);
    let received = "";
    let closed = false;
    const socket = await Bun.connect({
      hostname: url.hostname,
      port: Number(url.port),
      socket: {
        data(_s, chunk) {
          received += chunk.toString();
        },
        close() {
          closed = true;
        },
      },
    });
    const body = JSON.stringify({ name: "in-flight" });
    // Headers only; "Expect: 100-continue" makes the server say when it has the request in hand.
    socket.write(
      `POST /api/v1/tokens HTTP/1.1\r\nHost: ${url.host}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
        "Expect: 100-continue\r\nConnection: close\r\n\r\n",
    );
    for (let waited = 0; !received.includes("100 Continue"); waited += 20) {
      if (waited > 10_000) throw new Error(`no 100 Continue: ${JSON.stringify(received)}`);
      await Bun.sleep(20);
    }
    p.proc.kill("SIGTERM");
    await Bun.sleep(300);
    expect(p.proc.exitCode).toBeNull(); // still draining: the request is not finished
    // A new connection is no longer accepted once the shutdown has begun.
    await expect(fetch(p.url + "/healthz")).rejects.toThrow();
    socket.write(body);
    expect(await p.stop()).toBe(0);
    for (let waited = 0; !closed && waited < 5000; waited += 20) await Bun.sleep(20);
    expect(received).toContain("HTTP/1.1 401");
    expect(received).toContain('"code":"unauthorized"');
    const msgs = p.logs.map((l) => l.msg);
    expect(msgs.indexOf("request", msgs.indexOf("shutting down"))).toBeGreaterThan(msgs.indexOf("shutting down"));
    expect(msgs.at(-1)).toBe("switchboard stopped");
  });
});

describe("health of the database's storage", () => {
  test("/healthz reports the checks: reads, writes and the data directory's free space", async () => {
    const server = await startTestServer();
    try {
      const res = await fetch(server.url + "/healthz");
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.checks.database).toBe("ok");
      expect(body.checks.writes).toMatchObject({ status: "ok", failures: 0, last_error: null });
      expect(body.checks.disk.free_bytes).toBeGreaterThan(0);
      const metrics = await (await fetch(server.url + "/metrics")).text();
      expect(metrics).toContain(
        "# TYPE switchboard_database_write_failures_total counter\n" +
          `switchboard_database_write_failures_total{node="${server.ctx.nodeId}"} 0\n`,
      );
      expect(Number(/^switchboard_data_dir_free_bytes\{node="[^"]+"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  test("a full database (SQLITE_FULL; PostgreSQL's disk_full) answers 503 and turns /healthz to 503", async () => {
    const databaseUrl = await testDatabaseUrl();
    const api = await startApi({ databaseUrl });
    try {
      // SQLite's own behaviour when the disk is full: no page can be added. PostgreSQL: its disk_full
      // error (53100) on every insert of a person.
      const code = databaseUrl ? "53100" : "SQLITE_FULL";
      if (databaseUrl) await fillPostgres(databaseUrl, "users");
      else {
        const sqlite = api.server.ctx.db.$client;
        const pages = sqlite.query<{ page_count: number }, []>("PRAGMA page_count").get()!.page_count;
        sqlite.exec(`PRAGMA max_page_count = ${pages}`);
      }
      let res = { status: 201, body: null as any };
      for (let i = 0; i < 50 && res.status === 201; i++)
        res = await api.call("POST", "/api/v1/users", { email: `full${i}@example.com`, note: "n".repeat(4000) });
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ code: "storage_unavailable", details: null });
      const health = await fetch(api.server.url + "/healthz");
      expect(health.status).toBe(503);
      const body = await health.json();
      expect(body.status).toBe("error");
      expect(body.checks.writes.status).toBe("failing");
      expect(body.checks.writes.last_error).toContain(code);
      const metrics = await (await fetch(api.server.url + "/metrics")).text();
      expect(
        Number(/^switchboard_database_write_failures_total\{node="[^"]+"\} (\d+)$/m.exec(metrics)?.[1]),
      ).toBeGreaterThanOrEqual(1);
      expect(api.server.logs.some((l) => l.includes('"database write failed"') && l.includes(`"code":"${code}"`))).toBe(
        true,
      );
    } finally {
      await api.server.close();
    }
  });
});
