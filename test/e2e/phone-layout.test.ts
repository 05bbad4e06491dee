import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { apiClient } from "../support/admin-seed";
import { openAdminPage, signInPage } from "../support/chromium";
import { ADMIN, createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

setDefaultTimeout(30_000);

/** The admin UI on a 390×844 phone: a menu button instead of a clipped nav strip, nothing wider than the screen. */
let server: TestServer;
let chromium: Browser;
let phone: Page;
let personId: number;

beforeAll(async () => {
  server = await startTestServer();
  const api = apiClient(server.url, await createToken(await setupAdmin(server)));
  const org = await api.post("/organizations", { name: "Acme Corporation with a rather long name" });
  personId = (
    await api.post("/users", {
      firstname: "Grace",
      lastname: "Hopper",
      email: "grace.hopper.with.a.long.address@acme-corporation.example",
      organization_id: org.id,
    })
  ).id;
  ({ chromium, page: phone } = await openAdminPage(server.url, { viewport: { width: 390, height: 844 } }));
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

const pageWidth = () => phone.evaluate(() => document.documentElement.scrollWidth);

describe("phone layout", () => {
  test("the nav hides behind a Menu button that opens it, and its links work", async () => {
    await phone.goto(server.url + "/people");
    const nav = phone.locator("#main-nav");
    await expect(nav.isVisible()).resolves.toBe(false);
    await phone.getByRole("button", { name: "Menu" }).click();
    await expect(nav.isVisible()).resolves.toBe(true);
    // Every entry is reachable inside the screen, none clipped off to the right.
    const box = (await nav.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(390);
    await Promise.all([phone.waitForURL(server.url + "/organizations"), nav.getByText("Organizations").click()]);
    await expect(nav.isVisible()).resolves.toBe(false);
  });

  test("list, detail and form pages are no wider than the phone; tables scroll inside their card", async () => {
    for (const path of ["/people", `/people/${personId}`, "/organizations", "/webhooks/new", "/tickets", "/logs"]) {
      await phone.goto(server.url + path);
      expect({ path, width: await pageWidth() }).toEqual({ path, width: 390 });
    }
    await phone.goto(server.url + "/people");
    // The name column stays in view while the table scrolls sideways.
    const name = phone.getByRole("link", { name: "Grace Hopper" });
    await expect(name.isVisible()).resolves.toBe(true);
  });

  test("on a desktop the nav is an ordinary sidebar and there is no menu button", async () => {
    const desktop = await chromium.newPage({ viewport: { width: 1366, height: 900 } });
    await signInPage(desktop, server.url, ADMIN);
    await expect(desktop.locator("#main-nav").isVisible()).resolves.toBe(true);
    await expect(desktop.getByRole("button", { name: "Menu" }).isVisible()).resolves.toBe(false);
    await desktop.close();
  });
});
