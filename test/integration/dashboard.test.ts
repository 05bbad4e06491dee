import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { operationsModel } from "../../src/dashboard/snapshot";
import { apiClient, decodeEntities } from "../support/admin-seed";
import { startReceiver, type Receiver } from "../support/receiver";
import { createToken, setupAdmin, startTestServer, type Browser, type TestServer } from "../support/server";

let server: TestServer;
let browser: Browser;
let good: Receiver;
let bad: Receiver;
let api: ReturnType<typeof apiClient>;
const ids: Record<string, number> = {};

beforeAll(async () => {
  good = startReceiver(() => ({ status: 200 }));
  bad = startReceiver(() => ({ status: 500, body: "receiver broken" }));
  server = await startTestServer();
  browser = await setupAdmin(server);
  const token = await createToken(browser);
  api = apiClient(server.url, token);
  ids.good = (await api.post("/webhooks", { name: "Good hook", url: `${good.url}/in` })).id;
  ids.bad = (await api.post("/webhooks", { name: "Broken hook", url: `${bad.url}/in` })).id;
  await api.post("/triggers", {
    name: "orgs",
    events: ["organization.created"],
    webhook_ids: [ids.good, ids.bad],
  });
});

afterAll(async () => {
  await server.close();
  await good.stop();
  await bad.stop();
});

/** The live fragment, as htmx fetches it, with the text of a row's cells by class. */
async function live() {
  const res = await browser.request("/dashboard/live", { headers: { "HX-Request": "true" } });
  expect(res.status).toBe(200);
  const html = decodeEntities(await res.text());
  const row = (facility: string) => {
    const tr = new RegExp(`<tr id="facility-${facility}">([\\s\\S]*?)</tr>`).exec(html)?.[1] ?? "";
    const cell = (name: string) => new RegExp(`class="${name}">([^<]*)<`).exec(tr)?.[1];
    return {
      rateHour: cell("rate-hour"),
      totalHour: cell("total-hour"),
      failedHour: cell("failed-hour"),
      rateDay: cell("rate-day"),
      failedDay: cell("failed-day"),
      bars: (tr.match(/class="bar-slot"/g) ?? []).length,
      failedBars: (tr.match(/class="bar-failed"/g) ?? []).length,
    };
  };
  return { html, row };
}

describe("operations dashboard", () => {
  test("an admin lands on the dashboard, which carries the live fragment and polls it while visible", async () => {
    const page = decodeEntities(await (await browser.get("/")).text());
    expect(page).toContain("<h1>Dashboard</h1>");
    expect(page).toContain('id="dashboard-live"');
    expect(page).toContain('hx-get="/dashboard/live" hx-trigger="every 5s, refresh"');
    expect(page).toContain('<script src="/assets/dashboard.js" defer>');
    const script = await (await browser.get("/assets/dashboard.js")).text();
    expect(script).toContain("document.hidden");
  });

  test("the fragment needs a session", async () => {
    const res = await fetch(`${server.url}/dashboard/live`, { redirect: "manual" });
    expect([303, 401]).toContain(res.status);
  });

  test("successes and failures per facility, the failing endpoint and the queue, from real receivers", async () => {
    for (const name of ["One", "Two", "Three"]) await api.post("/organizations", { name });
    await good.waitFor(3);
    await bad.waitFor(3);
    // The failed first attempts are recorded in the tick after the answers arrive.
    for (let i = 0; (await live()).row("webhook").failedHour !== "3"; i++) {
      if (i > 200) throw new Error("three failures not counted within 10 s");
      await Bun.sleep(50);
    }

    const { html, row } = await live();
    expect(row("webhook")).toEqual({
      rateHour: "50%",
      totalHour: "6",
      failedHour: "3",
      rateDay: "50%",
      failedDay: "3",
      bars: 24,
      failedBars: 1,
    });
    expect(row("crm-sync")).toMatchObject({ rateHour: "—", totalHour: "0", failedHour: "0", failedBars: 0 });

    // The broken endpoint is listed as failing, linking to its page and its failed attempts; the good one is not.
    const troubled = /<section class="card" id="troubled">([\s\S]*?)<\/section>/.exec(html)![1]!;
    expect(troubled).toContain(`data-destination="webhook:${ids.bad}"`);
    expect(troubled).toContain(`<a href="/webhooks/${ids.bad}">Webhook Broken hook</a>`);
    expect(troubled).toContain(`href="/logs?destination=webhook%3A${ids.bad}&failed_only=true"`);
    expect(troubled).toContain("HTTP 500");
    expect(troubled).not.toContain(`webhook:${ids.good}"`);
    const failingPage = decodeEntities(
      await (await browser.get(`/logs?destination=webhook%3A${ids.bad}&failed_only=true`)).text(),
    );
    expect(failingPage.match(/500/g)?.length).toBeGreaterThanOrEqual(3);

    // The same figures through the REST API, for monitoring programs.
    const ops = await api.get("/operations");
    expect(operationsModel.safeParse(ops).success).toBe(true);
    const webhook = ops.facilities.find((f: { facility: string }) => f.facility === "webhook");
    expect(webhook.last_hour).toEqual({ succeeded: 3, failed: 3 });
    expect(webhook.hourly).toHaveLength(24);
    expect(webhook.hourly[23]).toEqual({ succeeded: 3, failed: 3 });
    expect(ops.queue).toEqual({ depth: 3, oldest_due_at: null });
    expect(ops.troubled_destinations).toEqual([
      expect.objectContaining({
        destination: `webhook:${ids.bad}`,
        name: "Webhook Broken hook",
        href: `/webhooks/${ids.bad}`,
        state: "failing",
        reason: "HTTP 500",
        consecutive_failures: 3,
        active_jobs: 3,
      }),
    ]);
    expect(ops.clearbit).toMatchObject({ configured: false, key: "unchecked", next_backfill_at: null });

    // Three retries wait (not yet due).
    expect(html).toMatch(/id="queue-depth"><span class="stat-label">Delivery queue<\/span><span class="stat-value">3</);
    expect(html).toMatch(/id="oldest-due">[\s\S]*?<span class="stat-value">—</);
  });

  test("a paused or disabled endpoint is listed with its reason", async () => {
    await server.ctx.delivery.disableDestination(`webhook:${ids.good}`, "switched off by the test");
    try {
      const { html } = await live();
      const row = new RegExp(`<tr data-destination="webhook:${ids.good}">([\\s\\S]*?)</tr>`).exec(html)?.[1] ?? "";
      expect(row).toContain(">disabled<");
      expect(row).toContain("switched off by the test");
    } finally {
      await server.ctx.delivery.enableDestination(`webhook:${ids.good}`);
    }
  });

  test("ingest rate counts identify calls; Clearbit says it has no key; storage figures are shown", async () => {
    const key = (await api.post("/write_keys", { name: "site" })).key;
    const auth = { authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}` };
    for (const email of ["a@example.com", "b@example.com"]) {
      const res = await fetch(`${server.url}/v1/identify`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ userId: email, traits: { email } }),
      });
      expect(res.status).toBe(200);
    }
    await fetch(`${server.url}/v1/batch`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        batch: [
          { type: "identify", userId: "c", traits: { email: "c@example.com" } },
          { type: "track", userId: "c", event: "Clicked" },
        ],
      }),
    });
    const { html } = await live();
    expect(html).toContain('<span class="ingest-minute">3</span>');
    expect(html).toContain('<span class="ingest-hour">3</span> last hour');
    expect(html).toContain("No API key saved");
    expect(html).toContain("none planned (Clearbit is off)");
    expect(html).toMatch(
      /id="storage"><span class="stat-label">Database<\/span><span class="stat-value">[\d.]+ (KB|MB)</,
    );
    expect(html).toMatch(/[\d.]+ (MB|GB|TB) free on disk/);
  });
});
