import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { apiClient } from "../support/admin-seed";
import { openAdminPage, signInPage } from "../support/chromium";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { ADMIN, createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

setDefaultTimeout(60_000);

/** The CRM sync editor in headless Chromium: one form with tabs, unsaved-change warning, explicit "create only", live progress, retries. */
let server: TestServer;
let receiver: Receiver;
let chromium: Browser;
let page: Page;
let api: ReturnType<typeof apiClient>;
let problems: string[];

beforeAll(async () => {
  receiver = startReceiver(() => ({ status: 201, body: '{"id": 1}' }));
  server = await startTestServer();
  const token = await createToken(await setupAdmin(server));
  api = apiClient(server.url, token);
  ({ chromium, page, problems } = await openAdminPage(server.url, {
    viewport: { width: 1366, height: 900 },
    timeout: 20_000,
  }));
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await receiver?.stop();
});

const newSync = (name: string, extra: Record<string, unknown> = {}) =>
  api.post("/crm_syncs", {
    name,
    create: { url: `${receiver.url}/people`, unique_id_path: "$.id" },
    update: { enabled: true, url: `${receiver.url}/people/{{external_id}}` },
    ...extra,
  });

describe("CRM sync editor", () => {
  test("the tabs switch sections of one form in the page: nothing typed is lost", async () => {
    await page.goto(`${server.url}/crm-sync/new`);
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = "same page"));
    await page.fill("#name", "Tabbed sync");
    await page.fill("#create_url", `${receiver.url}/people`);
    await page.click("button[data-tab=update]");
    expect(await page.isVisible("#update_url")).toBe(true);
    expect(await page.isVisible("#create_url")).toBe(false);
    await page.fill("#update_url", `${receiver.url}/people/{{external_id}}`);
    await page.click("button[data-tab=delete]");
    await page.click("button[data-tab=create]");
    expect(await page.inputValue("#create_url")).toBe(`${receiver.url}/people`);
    expect(await page.inputValue("#update_url")).toBe(`${receiver.url}/people/{{external_id}}`);
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe("same page");
  });

  test("the Update and Delete URL placeholders show the {{external_id}} token", async () => {
    await page.goto(`${server.url}/crm-sync/new`);
    for (const field of ["#update_url", "#delete_url"])
      expect(await page.getAttribute(field, "placeholder")).toBe("https://crm.example.lan/api/people/{{external_id}}");
  });

  test("an empty Unique ID Path is refused until 'create only' is ticked", async () => {
    await page.goto(`${server.url}/crm-sync/new`);
    await page.fill("#name", "Creations only");
    await page.fill("#create_url", `${receiver.url}/people`);
    await Promise.all([page.waitForEvent("load"), page.click("#sync-form button[type=submit]:has-text('Save')")]);
    expect(await page.textContent("#unique_id_path-error")).toContain('tick "create only"');
    expect(await page.inputValue("#create_url")).toBe(`${receiver.url}/people`);
    await page.check("#create_only");
    await Promise.all([page.waitForEvent("load"), page.click("#sync-form button[type=submit]:has-text('Save')")]);
    expect(page.url()).toMatch(/\/crm-sync\/\d+/);
    expect(await page.textContent(".flash")).toContain('Sync "Creations only" created.');
    expect(await page.isChecked("#create_only")).toBe(true);
  });

  test("leaving with unsaved changes asks first; saving does not", async () => {
    const s = await newSync("Warned sync");
    await page.goto(`${server.url}/crm-sync/${s.id}`);
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.type());
      void d.dismiss();
    });
    await page.fill("#name", "Renamed but not saved");
    await page.click("a:has-text('Logs')");
    await page.waitForTimeout(500);
    expect(dialogs).toEqual(["beforeunload"]);
    expect(new URL(page.url()).pathname).toBe(`/crm-sync/${s.id}`);
    expect(await page.inputValue("#name")).toBe("Renamed but not saved");
    await Promise.all([page.waitForEvent("load"), page.click("#sync-form button[type=submit]:has-text('Save')")]);
    expect(dialogs).toEqual(["beforeunload"]);
    expect(await page.textContent(".flash")).toContain("Sync saved.");
    page.removeAllListeners("dialog");
  });

  test("'Last error' clears after a success", async () => {
    const s = await newSync("Recovering sync");
    receiver.answer(() => ({ status: 500, body: "CRM down" }));
    const seen = receiver.requests.length;
    // The receiver has answered; the engine records the outcome in its next tick's transaction.
    const recorded = async (what: "last_error" | "last_success_at") =>
      eventually(async () => (await api.get(`/crm_syncs/${s.id}`)).state.delivery?.[what] != null, 10_000, what);
    await api.post("/users", { email: "down@example.com", firstname: "Down" });
    await receiver.waitFor(seen + 1);
    await recorded("last_error");
    await page.goto(`${server.url}/crm-sync/${s.id}`);
    expect(await page.textContent("#sync-state")).toContain("Last error: HTTP 500");
    receiver.answer(() => ({ status: 201, body: '{"id": 2}' }));
    await api.post("/users", { email: "up@example.com", firstname: "Up" });
    await receiver.waitFor(seen + 2);
    await recorded("last_success_at");
    await page.goto(`${server.url}/crm-sync/${s.id}`);
    expect(await page.textContent("#sync-state")).not.toContain("Last error");
    await api.delete(`/crm_syncs/${s.id}`);
  });

  test("sync-all progress refreshes itself and shows local, relative times", async () => {
    const s = await newSync("Bulk sync");
    receiver.answer(() => ({ status: 201, body: '{"id": 3}', delayMs: 2_500 }));
    await page.goto(`${server.url}/crm-sync/${s.id}`);
    await Promise.all([page.waitForEvent("load"), page.click("button:has-text('Sync all existing users')")]);
    const total = await page.textContent("#bulk-progress .bulk-total");
    expect(Number(total)).toBeGreaterThan(0);
    expect(await page.textContent("#bulk-progress .bulk-done")).not.toBe(total);
    const time = page.locator("#bulk-progress time");
    expect(await time.textContent()).toMatch(/just now|min ago/);
    expect(await time.textContent()).not.toContain("UTC");
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = "same page"));
    await page.waitForFunction((t) => document.querySelector("#bulk-progress .bulk-done")?.textContent === t, total, {
      timeout: 20_000,
    });
    expect(await page.textContent("#bulk-progress")).toContain("finished");
    expect(await page.locator("#bulk-progress time").textContent()).toMatch(/just now|min ago/);
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe("same page");
    receiver.answer(() => ({ status: 201, body: '{"id": 3}' }));
    await api.delete(`/crm_syncs/${s.id}`);
  });

  test("a retried call loses its Retry button; a second retry from a stale page answers in place", async () => {
    const s = await newSync("Retried sync");
    receiver.answer(() => ({ status: 400, body: "bad request" }));
    const seen = receiver.requests.length;
    await api.post("/users", { email: "retry@example.com", firstname: "Retry" });
    await receiver.waitFor(seen + 1);
    await page.waitForTimeout(300);
    receiver.answer(() => ({ status: 201, body: '{"id": 4}' }));
    const logs = `${server.url}/crm-sync/${s.id}?tab=logs`;
    const stale = await chromium.newPage();
    await signInPage(stale, server.url, ADMIN);
    await stale.goto(logs);
    await page.goto(logs);
    const retry = page.locator("button:has-text('Retry')");
    expect(await retry.count()).toBe(1);
    await retry.click();
    await page.waitForSelector(".retried");
    expect(await page.textContent(".retried")).toMatch(/Call queued again as job #\d+/);
    expect(await retry.count()).toBe(0);
    await page.reload();
    expect(await page.locator("button:has-text('Retry')").count()).toBe(0);
    expect(await page.textContent(".retried")).toMatch(/Retried as job #\d+/);

    await stale.click("button:has-text('Retry')");
    await stale.waitForSelector(".retried");
    expect(await stale.textContent(".retried")).toMatch(/already retried as job #\d+/);
    expect(await stale.textContent("main h1")).toBe("Retried sync");
    await stale.close();
    expect(problems).toEqual([]);
  });
});
