import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { apiClient } from "../support/admin-seed";
import { openAdminPage } from "../support/chromium";
import { startReceiver, type Receiver } from "../support/receiver";
import { createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

setDefaultTimeout(60_000);

/**
 * What an operator does with a webhook that fails, in headless Chromium: the attempts chart, a
 * disabled endpoint shown as disabled, recovering every failed delivery since a time (counted
 * before, followed after), bulk redelivery from the log, and a delivery's request and answer
 * readable (pretty, wrapped) with copy buttons.
 */
let server: TestServer;
let receiver: Receiver;
let chromium: Browser;
let page: Page;
let api: ReturnType<typeof apiClient>;
let problems: string[];
/** One unbroken 6,000-character token in a one-line JSON answer: the page must wrap it. */
const LONG_ANSWER = JSON.stringify({ ok: true, token: "x".repeat(6000), items: [1, 2, 3] });

const fail = () => receiver.answer(() => ({ status: 500, body: "down" }));
const succeed = () =>
  receiver.answer((req) =>
    req.path.startsWith("/gone")
      ? { status: 410 }
      : { status: 200, headers: { "content-type": "application/json" }, body: LONG_ANSWER },
  );

type Delivery = { id: number; status: string; delivery_id: string };
const deliveries = async (id: number): Promise<Delivery[]> => (await api.get(`/webhooks/${id}/deliveries`)).data;
async function waitUntil(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(100);
  }
}

const createHook = async (name: string, path: string): Promise<number> =>
  (await api.post("/webhooks", { name, url: receiver.url + path, max_attempts: 1 })).id;

const load = (action: Promise<unknown>) => Promise.all([page.waitForEvent("load"), action]);

beforeAll(async () => {
  receiver = startReceiver();
  fail();
  server = await startTestServer();
  api = apiClient(server.url, await createToken(await setupAdmin(server)));
  ({ chromium, page, problems } = await openAdminPage(server.url, {
    viewport: { width: 1280, height: 900 },
    timeout: 20_000,
    expectedConsole: /status of 4\d\d/,
    permissions: ["clipboard-read", "clipboard-write"],
  }));
}, 90_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await receiver?.stop();
});

describe("webhook operations", () => {
  let hook: number;

  test("the attempts chart counts each hour's successes and failures", async () => {
    hook = await createHook("Flaky", "/flaky");
    for (let i = 0; i < 3; i++) await api.post(`/webhooks/${hook}/test`, {});
    await waitUntil(async () => (await deliveries(hook)).filter((d) => d.status === "failed").length === 3);
    await page.goto(`${server.url}/webhooks/${hook}`);
    const caption = await page.locator("#attempts-chart figcaption").textContent();
    expect(caption).toContain("0 succeeded");
    expect(caption).toContain("3 failed");
    const bars = page.locator("#attempts-chart g.chart-bar");
    expect(await bars.count()).toBe(24);
    // Each hour's bar carries its counts (the last hour's, or two across an hour's turn).
    const failed = await bars.evaluateAll((gs) => gs.map((g) => Number((g as SVGGElement).dataset.failed)));
    expect(failed.reduce((a, b) => a + b, 0)).toBe(3);
    expect(failed.slice(0, -2).every((n) => n === 0)).toBe(true);
    // Drawn on the server as SVG: no chart library.
    expect(await page.locator("#attempts-chart svg rect.chart-failed").count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator("#attempts-chart svg rect.chart-ok").count()).toBe(0);
  });

  test("recover: every failed delivery since a time, counted before and followed after; a reload repeats nothing", async () => {
    succeed();
    const before = receiver.requests.length;
    await page.goto(`${server.url}/webhooks/${hook}`);
    await page.fill("#recover-since", new Date(Date.now() - 3_600_000).toISOString().slice(0, 16));
    await load(page.click("#recover-form button"));
    await expect(page.locator("#recover-count").textContent()).resolves.toContain("3 failed deliveries");
    expect(receiver.requests.length).toBe(before); // Counting sends nothing.
    await load(page.click("#recover-confirm"));
    expect(new URL(page.url()).pathname).toBe(`/webhooks/${hook}/recovery`);
    // The progress refreshes itself (htmx) until the run is done.
    await page.waitForFunction(() => document.querySelector("#recovery-status")?.textContent?.includes("Done"));
    await expect(page.locator("#recovery-status").textContent()).resolves.toContain("3 of 3 finished: 3 succeeded");
    const all = await deliveries(hook);
    expect(all.length).toBe(6);
    // Same delivery ids as the failed ones: receivers can drop what they already had.
    const failedIds = all.filter((d) => d.status === "failed").map((d) => d.delivery_id);
    const resentIds = all.filter((d) => d.status === "succeeded").map((d) => d.delivery_id);
    expect(resentIds.sort()).toEqual(failedIds.sort());
    await page.reload();
    await Bun.sleep(500);
    expect((await deliveries(hook)).length).toBe(6);
    // Nothing failed is left to recover.
    await page.goto(
      `${server.url}/webhooks/${hook}/recover?since=${new Date(Date.now() - 3_600_000).toISOString().slice(0, 16)}`,
    );
    await expect(page.locator("#recover-count").textContent()).resolves.toContain("No failed deliveries");
    await page.goto(`${server.url}/webhooks/${hook}`);
    await expect(page.locator("#attempts-chart figcaption").textContent()).resolves.toContain("3 succeeded");
  });

  test("recover through the API: count, send, progress (in the OpenAPI document)", async () => {
    fail();
    await api.post(`/webhooks/${hook}/test`, {});
    await waitUntil(async () => (await deliveries(hook)).filter((d) => d.status === "failed").length === 4);
    succeed();
    const since = new Date(Date.now() - 3_600_000).toISOString();
    expect((await api.get(`/webhooks/${hook}/recover?since=${since}`)).failed_deliveries).toBe(1);
    const run = await api.post(`/webhooks/${hook}/recover`, { since });
    expect(run.queued).toBe(1);
    await waitUntil(
      async () =>
        (await api.get(`/webhooks/${hook}/recover/progress?first_id=${run.first_id}&last_id=${run.last_id}`)).done,
    );
    const res = await fetch(`${server.url}/api/v1/webhooks/${hook}/recover`, { method: "POST" });
    expect(res.status).toBe(401);
    const spec = await (await fetch(`${server.url}/api/v1/openapi.json`)).json();
    expect(Object.keys(spec.paths)).toContain("/api/v1/webhooks/{id}/recover");
    expect(Object.keys(spec.paths)).toContain("/api/v1/webhooks/{id}/deliveries/redeliver");
  });

  test("bulk redeliver: tick deliveries in the log, one POST, back on the log (PRG)", async () => {
    fail();
    for (let i = 0; i < 2; i++) await api.post(`/webhooks/${hook}/test`, {});
    await waitUntil(async () => (await deliveries(hook)).filter((d) => d.status === "failed").length === 6);
    succeed();
    const newest = (await deliveries(hook)).slice(0, 2);
    await page.goto(`${server.url}/webhooks/${hook}/deliveries?status=failed`);
    // "Select all" ticks every row; clearing it clears them.
    await page.check("#select-all");
    expect(await page.locator("input[name=job_ids]:checked").count()).toBe(6);
    await page.uncheck("#select-all");
    expect(await page.locator("input[name=job_ids]:checked").count()).toBe(0);
    for (const d of newest) await page.check(`input[name=job_ids][value="${d.id}"]`);
    const before = (await deliveries(hook)).length;
    await load(page.click("#redeliver-selected"));
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe(
      `/webhooks/${hook}/deliveries?status=failed`,
    );
    await expect(page.locator(".flash").first().textContent()).resolves.toContain("2 deliveries queued again");
    await waitUntil(async () => (await deliveries(hook)).filter((d) => d.status === "succeeded").length === 6);
    const again = (await deliveries(hook)).slice(0, 2).map((d) => d.delivery_id);
    expect(again.sort()).toEqual(newest.map((d) => d.delivery_id).sort());
    await page.reload();
    expect((await deliveries(hook)).length).toBe(before + 2);
  });

  test("a delivery's request and answer: pretty-printed, wrapped, the HTTP-log entry's component, copy buttons", async () => {
    const [latest] = await deliveries(hook);
    await page.goto(`${server.url}/webhooks/${hook}/deliveries/${latest!.id}`);
    const body = (await page.locator(".response-body").first().textContent())!;
    expect(body).toContain('\n  "token": "xxx');
    expect((await page.locator(".request-body").first().textContent())!).toMatch(/^\{\n {2}"/);
    const overflow = () =>
      page.evaluate(() => ({
        page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        widest: Math.max(...[...document.querySelectorAll("pre, dl, table")].map((e) => e.scrollWidth - e.clientWidth)),
      }));
    expect(await overflow()).toEqual({ page: 0, widest: 0 });
    // Keyboard: focus the copy button, press Enter, the delivery id is on the clipboard.
    await page.focus("button[data-copy=delivery-id]");
    await page.keyboard.press("Enter");
    await expect(page.locator("button[data-copy=delivery-id]").textContent()).resolves.toBe("Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(latest!.delivery_id);
    await page.click("button[data-copy^=response-body]");
    expect(JSON.parse(await page.evaluate(() => navigator.clipboard.readText()))).toEqual(JSON.parse(LONG_ANSWER));
    // The HTTP-log entry shows the same component.
    await load(page.click(".attempt h2 a"));
    expect(new URL(page.url()).pathname).toMatch(/^\/logs\/\d+$/);
    expect(await page.locator(".exchange .response-body").count()).toBe(1);
    expect((await page.locator(".response-body").textContent())!).toBe(body);
    expect(await overflow()).toEqual({ page: 0, widest: 0 });
  });

  test("a new webhook's signing secret, shown once, has a copy button", async () => {
    await page.goto(`${server.url}/webhooks/new`);
    await page.fill("#name", "Copied secret");
    await page.fill("#url", receiver.url + "/copy");
    await load(page.click("#webhook-form button.btn-primary"));
    const secret = await page.locator("#new-secret").textContent();
    await page.click("button[data-copy=new-secret]");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret!);
  });

  test("an API token and a write key, shown once, have copy buttons", async () => {
    for (const [path, button, shown] of [
      ["/tokens", "text=Create token", "#new-token"],
      ["/write-keys", "text=Create write key", "#new-write-key"],
    ] as const) {
      await page.goto(server.url + path);
      await page.fill("#name", `copied ${path}`);
      await load(page.click(button));
      const secret = (await page.locator(shown).textContent())!;
      await page.focus(`button[data-copy="${shown.slice(1)}"]`);
      await page.keyboard.press("Space");
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    }
  });

  test("an endpoint the engine disabled is shown disabled, not Active; ticking Active and saving sends again", async () => {
    succeed();
    const gone = await createHook("Gone", "/gone");
    await api.post(`/webhooks/${gone}/test`, {});
    await waitUntil(async () => (await api.get(`/webhooks/${gone}`)).health.disabled);
    await page.goto(`${server.url}/webhooks/${gone}`);
    await expect(page.locator("#webhook-state").textContent()).resolves.toBe("Disabled");
    expect(await page.isChecked("#active")).toBe(false);
    await expect(page.locator("#active-note").textContent()).resolves.toContain("410 Gone");
    await page.goto(`${server.url}/webhooks`);
    await expect(page.locator("#webhook-list tr", { hasText: "Gone" }).textContent()).resolves.toContain("disabled");
    // Saving other changes keeps it off; ticking Active turns it on again.
    await page.goto(`${server.url}/webhooks/${gone}`);
    await page.fill("#url", receiver.url + "/back");
    await page.check("#active");
    await load(page.click("#webhook-form button.btn-primary"));
    await expect(page.locator(".flash").first().textContent()).resolves.toContain("enabled again");
    await expect(page.locator("#webhook-state").textContent()).resolves.toBe("Active");
    expect(await page.isChecked("#active")).toBe(true);
    expect((await api.get(`/webhooks/${gone}`)).health.disabled).toBe(false);
  });

  test("every badge (success ones included) has a text contrast of at least 4.5:1", async () => {
    const [latest] = await deliveries(hook);
    const paths = ["/logs", "/webhooks", `/webhooks/${hook}`, `/webhooks/${hook}/deliveries`];
    let seen = 0;
    for (const path of [...paths, `/webhooks/${hook}/deliveries/${latest!.id}`]) {
      await page.goto(server.url + path);
      const ratios = await page.$$eval(".badge", (badges) => {
        const luminance = (css: string) => {
          const [r, g, b] = css
            .match(/[\d.]+/g)!
            .slice(0, 3)
            .map((v) => Number(v) / 255);
          const lin = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
          return 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
        };
        return badges.map((b) => {
          const style = getComputedStyle(b);
          const [hi, lo] = [luminance(style.color), luminance(style.backgroundColor)].sort((x, y) => y - x);
          return { text: b.textContent, ratio: (hi! + 0.05) / (lo! + 0.05) };
        });
      });
      seen += ratios.length;
      for (const r of ratios) expect({ ...r, ok: r.ratio >= 4.5 }).toMatchObject({ text: r.text, ok: true });
    }
    expect(seen).toBeGreaterThan(10);
  });

  test("no script errors on any of these pages", () => {
    expect(problems).toEqual([]);
  });
});
