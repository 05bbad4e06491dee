import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ANONYMOUS_BODY_LIMIT } from "../../src/http/body-gate";
import { startApi, type Api } from "../support/api";
import { BUN, MAIN, ServerProcess } from "../support/process";
import { Browser, csrfOf, signIn, tempDir } from "../support/server";
import { rowsOf, testDatabaseUrl } from "../support/store";

setDefaultTimeout(60_000);

const MB = 1024 * 1024;
/** The resident memory of a process, from /proc. */
const rssOf = async (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(await Bun.file(`/proc/${pid}/status`).text())![1]) * 1024;

/** A body sent chunked (no Content-Length), so only counting while it streams can stop it. */
function chunked(bytes: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  const piece = new Uint8Array(chunk).fill(0x61);
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      sent += chunk;
      controller.enqueue(piece);
    },
  });
}

describe("unauthenticated bodies are not read", () => {
  let server: ServerProcess;
  const dataDir = tempDir();
  beforeAll(async () => {
    const databaseUrl = await testDatabaseUrl();
    const store = databaseUrl ? ["--database-url", databaseUrl] : [];
    server = await ServerProcess.start([BUN, MAIN, "serve", "--port", "0", "--data-dir", dataDir, ...store]);
  });
  afterAll(async () => {
    await server.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("eight 95 MB imports without credentials get 401 at once, and the server's memory does not grow", async () => {
    const body = new Uint8Array(95 * MB).fill(0x61);
    const before = await rssOf(server.proc.pid);
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const res = await fetch(server.url + "/api/v1/users/import", {
          method: "POST",
          headers: { "content-type": "text/csv" },
          body,
        });
        return { status: res.status, body: await res.json() };
      }),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(401));
    expect(answers[0]!.body.error.code).toBe("unauthorized");
    expect(performance.now() - started).toBeLessThan(10_000);
    expect((await rssOf(server.proc.pid)) - before).toBeLessThan(40 * MB);
  });
});

describe("body limits", () => {
  let api: Api;
  const IMPORT_LIMIT = 400_000;
  beforeAll(async () => {
    api = await startApi({ importLimit: String(IMPORT_LIMIT) });
  });
  afterAll(() => api.server.close());

  const importCsv = (body: BodyInit, headers: Record<string, string> = {}) =>
    fetch(api.server.url + "/api/v1/users/import", {
      method: "POST",
      headers: { authorization: `Bearer ${api.token}`, "content-type": "text/csv", ...headers },
      body,
    });
  const uploadsLeft = () => readdirSync(join(api.server.dataDir, "uploads"));

  test("an authenticated import over --import-limit gets 413, declared or chunked", async () => {
    const declared = await importCsv(new Uint8Array(IMPORT_LIMIT + 1));
    expect(declared.status).toBe(413);
    expect((await declared.json()).error.code).toBe("payload_too_large");
    const streamed = await importCsv(chunked(IMPORT_LIMIT + 100_000));
    expect(streamed.status).toBe(413);
    expect((await streamed.json()).error).toMatchObject({
      code: "payload_too_large",
      message: `request body exceeds ${IMPORT_LIMIT} bytes`,
    });
    expect(uploadsLeft()).toEqual([]);
  });

  test("a large import within the limit streams through and is imported, chunked too", async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => `bulk${i}@example.com,Bulk,Person ${i}`);
    const csv = `email,firstname,lastname\n${rows.join("\n")}\n`;
    expect(csv.length).toBeGreaterThan(ANONYMOUS_BODY_LIMIT * 2);
    const res = await importCsv(csv);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ committed: true, rows: 5000, created: 5000 });
    const bytes = new TextEncoder().encode(csv.replaceAll("Bulk,", "Bulky,"));
    const again = await importCsv(new Blob([bytes]).stream());
    expect(await again.json()).toMatchObject({ committed: true, rows: 5000, updated: 5000 });
    expect(uploadsLeft()).toEqual([]);
  });

  test("the admin UI keeps an upload in the database between preview and import (any node may import it)", async () => {
    const admin = await signIn(api.server);
    const upload = async (bytes: Uint8Array<ArrayBuffer>) => {
      const form = new FormData();
      form.set("_csrf", csrfOf(await (await admin.get("/people/import")).text()));
      form.set("file", new Blob([bytes], { type: "text/csv" }), "people.csv");
      return admin.request("/people/import", { method: "POST", body: form });
    };
    const rows = Array.from({ length: 3000 }, (_, i) => `ui${i}@example.com,Ui,Person ${i}`);
    const preview = await upload(new TextEncoder().encode(`email,firstname,lastname\n${rows.join("\n")}\n`));
    expect(preview.status).toBe(200);
    const page = await preview.text();
    expect(uploadsLeft()).toEqual([]);
    const kept = async () =>
      (
        await rowsOf<{ n: number; bytes: number }>(
          api.server.ctx.db,
          "SELECT count(*) AS n, coalesce(sum(length(data)), 0) AS bytes FROM pending_upload_chunks",
        )
      ).map((r) => ({ n: r.n, bytes: Number(r.bytes) }))[0];
    const csvBytes = `email,firstname,lastname\n${rows.join("\n")}\n`.length;
    expect(await kept()).toEqual({ n: 1, bytes: csvBytes });
    const action = /action="(\/people\/import\/[^"]+)"/.exec(page.replaceAll("&#x2F;", "/"))![1]!;
    const done = await admin.request(action, { method: "POST", form: { _csrf: csrfOf(page) } });
    expect(done.status).toBe(303);
    expect(uploadsLeft()).toEqual([]);
    expect(await kept()).toEqual({ n: 0, bytes: 0 });
    expect(
      await rowsOf(api.server.ctx.db, "SELECT count(*) AS n FROM users WHERE email LIKE 'ui%@example.com'"),
    ).toEqual([{ n: 3000 }]);

    const latin1 = await upload(new Uint8Array([0x65, 0x6d, 0x61, 0x69, 0x6c, 0x0a, 0xe9, 0x0a]));
    expect(latin1.status).toBe(422);
    expect(await latin1.text()).toContain("the file is not UTF-8 text; save it as CSV UTF-8");
    expect(uploadsLeft()).toEqual([]);
  });

  test("sign-in and set-up forms take at most 64 KB: over it is 413 before reading, declared or chunked", async () => {
    const big = "email=a%40example.com&password=" + "x".repeat(ANONYMOUS_BODY_LIMIT);
    for (const path of ["/login", "/setup"]) {
      const declared = await fetch(api.server.url + path, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: big,
      });
      expect(declared.status, path).toBe(413);
      const streamed = await fetch(api.server.url + path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: chunked(ANONYMOUS_BODY_LIMIT + 1),
      });
      expect(streamed.status, path).toBe(413);
    }
  });

  test("an admin page's large body without a session is not read: the browser is sent to sign in", async () => {
    const res = await new Browser(api.server.url).request("/people/import", {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=x" },
      body: new Uint8Array(IMPORT_LIMIT / 2),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login");
  });
});
