import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { apiClient } from "../support/admin-seed";
import { openAdminPage } from "../support/chromium";
import { startReceiver, type Receiver } from "../support/receiver";
import { createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

setDefaultTimeout(60_000);

/** The operations dashboard in headless Chromium: its figures change without a reload, and polling pauses when hidden. */
let server: TestServer;
let receiver: Receiver;
let chromium: Browser;
let page: Page;
let api: ReturnType<typeof apiClient>;
let hookId: number;
let problems: string[];
const liveRequests: number[] = [];

beforeAll(async () => {
  receiver = startReceiver(() => ({ status: 503, body: "down for maintenance" }));
  server = await startTestServer();
  const token = await createToken(await setupAdmin(server));
  api = apiClient(server.url, token);
  hookId = (await api.post("/webhooks", { name: "Flaky CRM hook", url: `${receiver.url}/in` })).id;
  await api.post("/triggers", { name: "orgs", events: ["organization.created"], webhook_ids: [hookId] });
  ({ chromium, page, problems } = await openAdminPage(server.url, {
    viewport: { width: 1366, height: 900 },
    timeout: 20_000,
    expectedConsole: null,
  }));
  page.on("request", (r) => r.url().endsWith("/dashboard/live") && liveRequests.push(Date.now()));
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await receiver?.stop();
});

const failedHour = () => page.locator("#facility-webhook .failed-hour").textContent();

describe("operations dashboard in Chromium", () => {
  test("an admin lands on the dashboard after sign-in, first in the navigation", async () => {
    expect(new URL(page.url()).pathname).toBe("/");
    expect(await page.locator("main h1").textContent()).toBe("Dashboard");
    expect(await page.locator("nav.sidebar a").first().textContent()).toBe("Dashboard");
    expect(await failedHour()).toBe("0");
    expect(await page.locator("#troubled").textContent()).toContain("none failing, paused or disabled");
  });

  test("new failed deliveries show up without a reload", async () => {
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = "same page"));
    await api.post("/organizations", { name: "Failing Ltd" });
    await api.post("/organizations", { name: "Failing Two" });
    await receiver.waitFor(2);
    await page.waitForFunction(
      () => document.querySelector("#facility-webhook .failed-hour")?.textContent === "2",
      undefined,
      { timeout: 15_000 },
    );
    expect(await page.locator("#facility-webhook .rate-hour").textContent()).toBe("0%");
    expect(await page.locator("#facility-webhook svg .bar-failed").count()).toBe(1);
    const row = page.locator(`#troubled tr[data-destination="webhook:${hookId}"]`);
    expect(await row.locator("a").first().textContent()).toBe("Webhook Flaky CRM hook");
    expect(await row.textContent()).toContain("HTTP 503");
    expect(await page.locator("#queue-depth .stat-value").textContent()).toBe("2");
    // Still the same document: swapped in by htmx, not reloaded.
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe("same page");
    await Promise.all([page.waitForURL(/\/logs\?/), row.getByText("Failing deliveries").click()]);
    expect(await page.locator("main").textContent()).toContain("503");
    expect(problems).toEqual([]);
  });

  test("polling pauses while the tab is hidden and refreshes at once when it is shown again", async () => {
    await page.goto(server.url + "/");
    const setHidden = (hidden: boolean) =>
      page.evaluate((h) => {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => h });
        document.dispatchEvent(new Event("visibilitychange"));
      }, hidden);
    await setHidden(true);
    const before = liveRequests.length;
    await page.waitForTimeout(6_500);
    expect(liveRequests.length).toBe(before);
    await setHidden(false);
    await page.waitForTimeout(500);
    expect(liveRequests.length).toBe(before + 1);
  });
});
