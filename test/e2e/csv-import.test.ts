import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { openAdminPage } from "../support/chromium";
import { setupAdmin, startTestServer, type TestServer } from "../support/server";
import { rowsOf } from "../support/store";

setDefaultTimeout(60_000);

/**
 * CSV import in real Chromium: upload, a refused preview with per-row errors, a clean preview, the import, the export.
 */
let server: TestServer;
let chromium: Browser;
let page: Page;

beforeAll(async () => {
  server = await startTestServer();
  await setupAdmin(server);
  ({ chromium, page } = await openAdminPage(server.url));
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

const upload = async (csv: string) => {
  await page.goto(server.url + "/people/import");
  await page.setInputFiles("#file", { name: "people.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await Promise.all([
    page.waitForURL((url) => url.pathname === "/people/import" && url.search === "", { waitUntil: "load" }),
    page.click("main button[type=submit]"),
  ]);
  await page.locator(".import-summary").waitFor();
};
const people = async () => (await rowsOf<{ n: number }>(server.ctx.db, "SELECT count(*) AS n FROM users"))[0]!.n;

describe("CSV import in the admin UI", () => {
  test("a file with a bad row shows each error and imports nothing", async () => {
    const before = await people();
    await upload("email,firstname,vip\nok@example.com,Ok,no\nbroken,Bad,perhaps\n");
    const errors = await page.locator("#import-errors tbody tr").allTextContents();
    expect(errors.some((r) => r.includes("3") && r.includes("email"))).toBe(true);
    expect(errors.some((r) => r.includes("vip"))).toBe(true);
    expect(await page.locator("button", { hasText: /^Import/ }).count()).toBe(0);
    expect(await people()).toBe(before);
  });

  test("a clean file previews, then imports on request and shows in the list and the export", async () => {
    const before = await people();
    await upload('email,firstname,lastname\nrosa@example.com,Rosa,Parks\n"ada@example.com",Ada,"Lovelace, Countess"\n');
    expect(await page.locator(".import-summary").textContent()).toContain("2 to create");
    expect(await people()).toBe(before);
    await Promise.all([page.waitForURL(/\/people$/), page.click("button:has-text('Import 2 rows')")]);
    expect(await page.locator(".flash-success").textContent()).toContain("2 created");
    expect(await people()).toBe(before + 2);
    expect(await page.locator("#list-results").textContent()).toContain("Lovelace, Countess");
    const download = await page.evaluate(async () => (await fetch("/people/export.csv")).text());
    expect(download).toContain('"Lovelace, Countess"');
  });
});
