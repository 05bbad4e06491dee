import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { openAdminPage } from "../support/chromium";
import { startReceiver, type Receiver } from "../support/receiver";
import { createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

setDefaultTimeout(40_000);

/**
 * The webhook pages in real headless Chromium: create, preview (htmx), send a test,
 * watch the answer arrive, build a trigger.
 */
let server: TestServer;
let receiver: Receiver;
let chromium: Browser;
let page: Page;
let token: string;
let problems: string[];

beforeAll(async () => {
  receiver = startReceiver(() => ({ status: 200, body: '{"ok":"from receiver"}', delayMs: 300 }));
  server = await startTestServer();
  token = await createToken(await setupAdmin(server));
  ({ chromium, page, problems } = await openAdminPage(server.url, {
    viewport: { width: 1280, height: 900 },
    expectedConsole: /status of 4\d\d/,
  }));
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await receiver?.stop();
});

describe("webhooks UI", () => {
  test("create a webhook from the navigation; the signing secret is shown once", async () => {
    await page.goto(server.url + "/");
    await Promise.all([page.waitForEvent("load"), page.click("nav >> text=Webhooks")]);
    expect(new URL(page.url()).pathname).toBe("/webhooks");
    await Promise.all([page.waitForEvent("load"), page.click("text=New webhook")]);
    await page.fill("#name", "Chromium hook");
    await page.fill("#url", receiver.url + "/ui");
    await Promise.all([page.waitForEvent("load"), page.click("#webhook-form button.btn-primary")]);
    await expect(page.locator("#new-secret").textContent()).resolves.toMatch(/^whsec_[A-Za-z0-9+/]{64}$/);
  });

  test("htmx preview of a custom payload: valid JSON for a tricky name, a clear error for a bad template", async () => {
    await page.goto(server.url + "/webhooks");
    await Promise.all([page.waitForEvent("load"), page.click("text=Chromium hook")]);
    await page.fill("#custom_payload", '{"who": "{{user.firstname}} {{user.lastname}}"}');
    await page.selectOption("#sample", "user");
    let loads = 0;
    page.on("load", () => loads++);
    await page.click("#preview-button");
    await page.waitForSelector("#preview-body");
    const preview = JSON.parse((await page.locator("#preview-body").textContent())!);
    expect(preview.who).toBe(`Emily "Em" O'Brien-Ünal \\ ☕`);
    await page.fill("#custom_payload", '{"who": {{user.firstname}}}');
    await page.click("#preview-button");
    await page.waitForSelector("#preview-error");
    expect(loads).toBe(0);
  });

  test("send test: the delivery page fills in the receiver's answer when it arrives", async () => {
    await page.goto(server.url + "/webhooks");
    await Promise.all([page.waitForEvent("load"), page.click("text=Chromium hook")]);
    await Promise.all([page.waitForEvent("load"), page.click("#send-test")]);
    expect(new URL(page.url()).pathname).toMatch(/^\/webhooks\/\d+\/deliveries\/\d+$/);
    await page.waitForSelector(".response-body", { timeout: 20_000 });
    // Bodies are pretty-printed: the receiver's JSON, indented.
    await expect(page.locator(".response-body").textContent()).resolves.toBe('{\n  "ok": "from receiver"\n}');
    await expect(page.locator("#delivery-status").textContent()).resolves.toContain("succeeded");
    expect(receiver.requests.some((r) => r.path === "/ui")).toBe(true);
  });

  test("build a trigger with the condition builder; a matching change is delivered", async () => {
    await page.goto(server.url + "/triggers/new");
    await page.fill("#name", "Acme organizations");
    await page.check("input[name=events][value='organization.created']");
    await page.selectOption("#cond_field_0", "organization.name");
    await page.selectOption("#cond_operator_0", "starts_with");
    await page.fill("#cond_value_0", "acme");
    await page.check("input[name=webhook_ids]");
    await Promise.all([page.waitForEvent("load"), page.click("#trigger-form button.btn-primary")]);
    expect(new URL(page.url()).pathname).toMatch(/^\/triggers\/\d+$/);
    await expect(page.locator("#cond_field_0").inputValue()).resolves.toBe("organization.name");
    await page.goto(server.url + "/triggers");
    await expect(page.locator("#trigger-list").textContent()).resolves.toContain("Acme organizations");
    const before = receiver.requests.filter((r) => r.path === "/ui").length;
    const total = receiver.requests.length;
    const create = (name: string) =>
      fetch(server.url + "/api/v1/organizations", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name }),
      });
    await create("Other Corp");
    await create("ACME Rockets");
    // Counted before the changes: the delivery may arrive before the second create returns.
    await receiver.waitFor(total + 1);
    await Bun.sleep(500);
    const received = receiver.requests.filter((r) => r.path === "/ui").slice(before);
    expect(received).toHaveLength(1);
    expect(received[0]!.headers["x-switchboard-trigger"]).toBe("Acme organizations");
    expect(problems).toEqual([]);
  });
});
