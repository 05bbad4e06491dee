import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { apiClient } from "../support/admin-seed";
import { openAdminPage } from "../support/chromium";
import { makePerson, makeCompany, startFakeClearbit, type FakeClearbit } from "../support/fake-clearbit";
import { createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

setDefaultTimeout(40_000);

/**
 * Clearbit through the admin UI in headless Chromium: the settings page (key masked, badge), the
 * person page's "Enrich now" and its human-readable properties, the merge rule as an admin sees
 * it, the integration log with the key redacted, and "Backfill now" with progress.
 */
let server: TestServer;
let fake: FakeClearbit;
let chromium: Browser;
let page: Page;
let api: ReturnType<typeof apiClient>;
let problems: string[];

beforeAll(async () => {
  fake = startFakeClearbit();
  server = await startTestServer();
  const admin = await setupAdmin(server);
  api = apiClient(server.url, await createToken(admin));
  ({ chromium, page, problems } = await openAdminPage(server.url, { viewport: { width: 1280, height: 900 } }));
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await fake?.stop();
});

describe("Integrations → Clearbit", () => {
  test("a key without sk_ is refused by name; a good one is saved, masked, and the badge waits for data", async () => {
    await page.click("nav >> text=Integrations");
    await page.click("a[href='/integrations/clearbit']");
    await expect(page.locator("#clearbit-status").textContent()).resolves.toBe("Disabled");
    await page.check("#enabled");
    await page.fill("#api_key", "pk_public_0123456789");
    await page.fill("#person_url", fake.url);
    await page.fill("#company_url", fake.url);
    await page.fill("#stream_url", fake.streamUrl);
    await page.click("button:text('Save settings')");
    await expect(page.locator("#api_key-error").textContent()).resolves.toContain(
      "must be a secret key starting with sk_",
    );
    await expect(page.inputValue("#person_url")).resolves.toBe(fake.url);
    await page.fill("#api_key", fake.key);
    await Promise.all([page.waitForEvent("load"), page.click("button:text('Save settings')")]);
    await expect(page.locator(".flash").textContent()).resolves.toContain("saved");
    await expect(page.locator("#clearbit-status").textContent()).resolves.toBe("Waiting for data");
    const html = await page.content();
    expect(html).not.toContain(fake.key);
    expect(await page.getAttribute("#api_key", "placeholder")).toContain("••••");
    await expect(page.locator("#mapping-table").textContent()).resolves.toContain("person.bio");
  });

  test("Enrich now fills a person's empty fields, keeps the admin's, shows properties by readable names", async () => {
    fake.set("alex.x@acme.com", {
      kind: "found",
      person: makePerson("alex.x@acme.com", { bio: "Climbs mountains." }),
      company: makeCompany("acme.com"),
    });
    // Created with enrichment on: looked up at once. The admin then writes the last name and clears the note.
    const alex = await api.post("/users", { email: "alex.x@acme.com" });
    for (let i = 0; i < 100 && !(await api.get(`/users/${alex.id}`)).clearbit_date_last_checked; i++)
      await Bun.sleep(50);
    await page.goto(`${server.url}/people/${alex.id}`);
    await expect(page.locator("#enrichment-data").textContent()).resolves.toContain("Company Website URL");
    await expect(page.locator("#enrichment-state").textContent()).resolves.toContain("Clearbit: Date Last Checked");
    // The answer is folded away under its state line until asked for.
    expect(await page.isVisible("text=Company Website URL")).toBe(false);
    await page.click("#enrichment summary");
    expect(await page.isVisible("text=Company Website URL")).toBe(true);
    await page.click(".page-head a:has-text('Edit')");
    await page.fill("#f-lastname", "X-Admin");
    await page.fill("#f-note", "");
    await Promise.all([page.waitForEvent("load"), page.click("button:has-text('Save changes')")]);
    await expect(page.locator(".flash-success").textContent()).resolves.toContain("saved");
    // Enrich now: the cached answer is reused within the refresh interval, under the merge rule.
    await Promise.all([page.waitForEvent("load"), page.click("#enrichment button:text('Enrich now')")]);
    await expect(page.locator(".flash").textContent()).resolves.toContain("no new call");
    const u = await api.get(`/users/${alex.id}`);
    expect(u).toMatchObject({ firstname: "Alex", lastname: "X-Admin", note: null, web: "https://alex.example.org" });
    expect(fake.callsFor("alex.x@acme.com")).toBe(1);
    await expect(page.locator("[data-field=firstname]").textContent()).resolves.toBe("enrichment:clearbit");
    await expect(page.locator("[data-field=lastname]").textContent()).resolves.toBe("ui");
  });

  test("the badge turns Connected; the log shows the request, key redacted; Backfill now shows progress", async () => {
    for (let i = 0; i < 5; i++) await api.post("/users", { email: `back.fill${i}@example.com` });
    await page.goto(server.url + "/integrations/clearbit");
    await expect(page.locator("#clearbit-status").textContent()).resolves.toBe("Connected");
    const log = await page.locator("#clearbit-log").textContent();
    expect(log).toContain("/v2/combined/find?email=alex.x%40acme.com");
    expect(log).toContain("[REDACTED]");
    expect(await page.content()).not.toContain(fake.key.slice(3));
    await page.click("button:text('Backfill now')");
    await page.waitForSelector("#backfill-progress .backfill-total");
    await page.waitForFunction(
      () => document.querySelector("#backfill-progress")?.textContent?.includes("finished"),
      undefined,
      { timeout: 20_000 },
    );
    const done = await page.locator("#backfill-progress .backfill-done").textContent();
    expect(Number(done)).toBeGreaterThanOrEqual(1);
  });

  test("the page lists the 10 newest requests and links to the whole Clearbit log, paged and filtered", async () => {
    for (let i = 0; i < 8; i++) await api.post("/users", { email: `more.people${i}@example.com` });
    const logged = async () => (await api.get("/http_log?facility=clearbit&limit=20")).data.length as number;
    for (let tries = 0; (await logged()) < 12; tries++) {
      if (tries > 200) throw new Error("the lookups were not logged");
      await Bun.sleep(100);
    }
    await page.goto(server.url + "/integrations/clearbit");
    await expect(page.locator("#clearbit-log tbody tr").count()).resolves.toBe(10);
    await Promise.all([page.waitForEvent("load"), page.click("#clearbit-log-all")]);
    expect(new URL(page.url()).search).toBe("?facility=clearbit");
    const facilities = await page.locator("#http-log tbody td:nth-child(2) .badge").allTextContents();
    expect(facilities.length).toBeGreaterThan(10);
    expect(new Set(facilities)).toEqual(new Set(["clearbit"]));
  });

  test("checkboxes and radios on the settings form are full size, not squeezed by the inputs' padding", async () => {
    await page.goto(server.url + "/integrations/clearbit");
    for (const selector of ["#enabled", "input[type=checkbox] >> nth=1"]) {
      const box = (await page.locator(selector).boundingBox())!;
      expect(box.width).toBeGreaterThanOrEqual(16);
      expect(box.height).toBeGreaterThanOrEqual(16);
    }
  });

  test("an audience is defined in the UI and shows on people as a boolean", async () => {
    await page.goto(server.url + "/integrations/audiences");
    await page.fill("#name", "Acme people");
    await page.fill("#conditions", "clearbit_company_domain eq acme.com");
    await Promise.all([page.waitForEvent("load"), page.click("button:text('Create audience')")]);
    await expect(page.locator("#audience-list").textContent()).resolves.toContain("acme_people");
    const alex = (await api.get("/users?email=alex.x@acme.com")).data[0];
    expect(alex.acme_people).toBe(true);
    await page.fill("#name", "Broken");
    await page.fill("#conditions", "email resembles x");
    // The empty error slot is on the page before the answer: wait for the answer, then the message itself
    // (waitFor survives the page being replaced, which a plain read mid-navigation does not on a slow machine).
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST"),
      page.click("button:text('Create audience')"),
    ]);
    const message = page.locator("#conditions-error .field-error");
    await message.waitFor();
    expect(await message.textContent()).toContain("line 1");
  });

  test("no page errors along the way", () => {
    expect(problems).toEqual([]);
  });
});
