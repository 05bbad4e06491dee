import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createToken, setupAdmin, signIn, startTestServer, type TestServer } from "../support/server";
import { TEST_STORE } from "../support/store";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe("first run", () => {
  test("setup creates the admin, signs in, and closes", async () => {
    const browser = await setupAdmin(server);
    const dash = await browser.get("/");
    expect(dash.status).toBe(200);
    expect(await dash.text()).toContain("Dashboard");
    const again = await fetch(server.url + "/setup", { redirect: "manual" });
    expect(again.status).toBe(303);
    const token = await createToken(browser);
    const res = await fetch(server.url + "/api/v1/tokens", { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect((await res.json()).data[0].name).toBe("tests");
  });
});

describe("which database", () => {
  test("/healthz and the dashboard name the store: the SQLite file, or PostgreSQL without its password", async () => {
    const health = await (await fetch(`${server.url}/healthz`)).json();
    if (TEST_STORE === "postgres") {
      const url = new URL(server.ctx.config.databaseUrl);
      expect(health.store).toEqual({
        kind: "postgres",
        host: url.hostname,
        port: Number(url.port),
        database: url.pathname.slice(1),
        user: url.username,
      });
    } else expect(health.store).toEqual({ kind: "sqlite", path: join(server.dataDir, "switchboard.db") });
    const browser = await signIn(server);
    const page = await (await browser.get("/")).text();
    expect(page).toContain(
      health.store.kind === "postgres" ? `${health.store.port}&#x2F;${health.store.database}` : "switchboard.db",
    );
    expect(page).not.toContain("password@");
  });
});
