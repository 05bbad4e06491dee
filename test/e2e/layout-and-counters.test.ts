import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { apiClient } from "../support/admin-seed";
import { openAdminPage } from "../support/chromium";
import { startFakeClearbit, type FakeClearbit } from "../support/fake-clearbit";
import { createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

setDefaultTimeout(40_000);

/**
 * Issue 14 items 14, 16 and 17 in Chromium: the person page (details, then Edit; Clearbit folded; a failed lookup
 * says so), long text that never widens a page, and list counters that say how many are shown of how many.
 */
let server: TestServer;
let fake: FakeClearbit;
let chromium: Browser;
let page: Page;
let api: ReturnType<typeof apiClient>;
let problems: string[];

const TITLE = "X".repeat(250);
const NOTE = "lorem-ipsum-".repeat(417).slice(0, 5000);
const URL_LONG = `https://example.org/${"very-long-path-segment-".repeat(20)}`;
let person: { id: number };
let ticket: { id: number };

beforeAll(async () => {
  fake = startFakeClearbit();
  server = await startTestServer();
  const admin = await setupAdmin(server);
  api = apiClient(server.url, await createToken(admin));
  // Clearbit on, under a key Clearbit refuses.
  await fetch(`${server.url}/api/v1/integrations/clearbit`, {
    method: "PUT",
    headers: { authorization: `Bearer ${await createToken(admin, "clearbit")}`, "content-type": "application/json" },
    body: JSON.stringify({
      enabled: true,
      api_key: "sk_wrong_key_0123456789",
      person_url: fake.url,
      company_url: fake.url,
      stream_url: fake.streamUrl,
    }),
  });
  await api.post("/organizations", { name: `Org${"O".repeat(240)}` });
  person = await api.post("/users", {
    email: "long.text@example.org",
    firstname: "F".repeat(120),
    lastname: "Longname",
    note: NOTE,
    web: URL_LONG,
  });
  for (let i = 0; i < 40; i++) await api.post("/users", { email: `c${i}@crowd.example`, firstname: "Crowd" });
  ticket = await api.post("/tickets", { title: TITLE, customer_id: person.id, article: { body: NOTE } });

  ({ chromium, page, problems } = await openAdminPage(server.url, { viewport: { width: 1366, height: 900 } }));
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await fake?.stop();
});

/** Nothing on the page is wider than the window, and no card is wider than itself. */
const overflow = () =>
  page.evaluate(() => {
    const wide = [...document.querySelectorAll<HTMLElement>(".card, main")].filter(
      (e) => e.scrollWidth > e.clientWidth + 1,
    );
    return {
      page: document.documentElement.scrollWidth - window.innerWidth,
      cards: wide.map((e) => `${e.tagName}.${e.className}#${e.id}: ${e.scrollWidth} > ${e.clientWidth}`),
    };
  });

describe("long text never breaks the layout (item 16)", () => {
  for (const path of ["/tickets", "/people", "/organizations", "/tickets/:ticket", "/people/:person"])
    test(`${path} at 1366 and 390 px wide`, async () => {
      const url = server.url + path.replace(":ticket", String(ticket.id)).replace(":person", String(person.id));
      for (const width of [1366, 390]) {
        await page.setViewportSize({ width, height: 900 });
        await page.goto(url);
        expect({ width, ...(await overflow()) }).toEqual({ width, page: 0, cards: [] });
      }
      await page.setViewportSize({ width: 1366, height: 900 });
    });

  test("a truncated title shows in full on hover; a long note expands", async () => {
    await page.goto(`${server.url}/tickets`);
    const cell = page.locator("#list-results tbody td a", { hasText: "XXXX" });
    expect(await cell.getAttribute("title")).toBe(TITLE);
    await page.goto(`${server.url}/people/${person.id}`);
    const note = page.locator('tr:has(th:text-is("Note")) .long-value');
    expect(await note.locator("summary").textContent()).toContain("Show all 5,000 characters");
    await note.locator("summary").click();
    expect(await note.locator(".long-full").textContent()).toBe(NOTE);
  });
});

describe("the person page (item 14)", () => {
  test("details first, Edit opens the form; Clearbit folded; a lookup under a bad key says it failed", async () => {
    await page.goto(`${server.url}/people/${person.id}`);
    expect(await page.locator("#record-form").count()).toBe(0);
    // The page tells the state as it was when loaded: look again until the lookup's call has come back.
    for (let i = 0; i < 40 && !(await page.locator("#enrichment-state").textContent())?.includes("failed"); i++) {
      await Bun.sleep(250);
      await page.reload();
    }
    await expect(page.locator("#enrichment-state").textContent()).resolves.toContain(
      "Lookup failed: Unauthorized: auth_required: The API key is invalid.",
    );
    await Promise.all([page.waitForURL(/\/edit$/), page.click(".page-head a:has-text('Edit')")]);
    await expect(page.inputValue("#f-lastname")).resolves.toBe("Longname");
    expect(await page.locator("#details-h").count()).toBe(0);
    await Promise.all([page.waitForURL(/\/people\/\d+$/), page.click("#record-form a:has-text('Cancel')")]);
    expect(await page.locator("#record-form").count()).toBe(0);
  });
});

describe("counters (item 17)", () => {
  test("the people counter shows the total and grows with Load more; an empty search says so once", async () => {
    await page.goto(`${server.url}/people`);
    await expect(page.locator("#list-status").textContent()).resolves.toBe("Showing 25 of 42 people");
    await page.click("text=Load more");
    await page.waitForFunction(() => document.querySelector("#list-status")?.textContent === "Showing 42 of 42 people");
    expect(await page.locator("#list-results tbody tr").count()).toBe(42);
    await page.locator("#q").pressSequentially("nobody-here", { delay: 20 });
    await page.waitForFunction(() => document.querySelector("#list-status")?.textContent?.startsWith("No people"));
    expect(await page.locator("text=No people match").count()).toBe(1);
    expect(problems).toEqual([]);
  });
});
