import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

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
