import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { startApi, type Api } from "../support/api";
import { openAdminPage } from "../support/chromium";

setDefaultTimeout(60_000);

/** The custom-payload editor in Chromium: wide, previewed as the admin types, warning about object tokens. */
let api: Api;
let chromium: Browser;
let page: Page;
let hookId: number;

beforeAll(async () => {
  api = await startApi();
  hookId = (await api.call("POST", "/api/v1/webhooks", { name: "Payload hook", url: "http://127.0.0.1:9/x" })).body.id;
  ({ chromium, page } = await openAdminPage(api.server.url, { viewport: { width: 1366, height: 900 } }));
}, 90_000);

afterAll(async () => {
  await chromium?.close();
  await api?.server.close();
});

describe("custom payload editor", () => {
  test("previews as the admin types, warns about a token rendering an object and suggests the field", async () => {
    await page.goto(`${api.server.url}/webhooks/${hookId}`);
    const box = (await page.locator("#custom_payload").boundingBox())!;
    expect(box.width).toBeGreaterThanOrEqual(450);
    expect(box.height).toBeGreaterThanOrEqual(300);
    let loads = 0;
    page.on("load", () => loads++);
    // Typed, not pasted, and no button pressed: the preview follows the typing.
    await page.locator("#custom_payload").pressSequentially('{"state": "{{ticket.state}}"}', { delay: 5 });
    await page.waitForSelector("#preview-warnings");
    await expect(page.locator("#preview-warnings").textContent()).resolves.toContain(
      '{{ticket.state}} is an object and renders as "[object Object]": use {{ticket.state.name}}',
    );
    await page.locator("#custom_payload").fill('{"state": "{{ticket.state.name}}"}');
    await page.waitForSelector("#preview-warnings", { state: "detached" });
    await page.waitForFunction(() => document.querySelector("#preview-body")?.textContent?.includes('"open"'));
    expect(JSON.parse((await page.locator("#preview-body").textContent())!)).toEqual({ state: "open" });
    // Another sample: the preview follows the choice.
    await page.locator("#custom_payload").fill('{"who": "{{user.emial}}"}');
    await page.selectOption("#sample", "user");
    await page.waitForFunction(() =>
      document.querySelector("#preview-warnings")?.textContent?.includes("did you mean {{user.email}}?"),
    );
    expect(loads).toBe(0);
  });
});
