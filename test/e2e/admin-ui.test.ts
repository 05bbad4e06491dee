import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { openAdminPage } from "../support/chromium";
import { ADMIN, startTestServer, type TestServer } from "../support/server";
import { rowsOf } from "../support/store";

setDefaultTimeout(30_000);

/**
 * The admin UI in real headless Chromium, one signed-in journey: the tests run in order and share
 * the page, like an admin clicking through.
 */
let server: TestServer;
let chromium: Browser;
let page: Page;
let problems: string[];

beforeAll(async () => {
  server = await startTestServer();
  ({ chromium, page, problems } = await openAdminPage(server.url, {
    viewport: { width: 1280, height: 800 },
    expectedConsole: /status of 40[13]/,
    signIn: false,
  }));
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

const apiStatus = async (token: string) =>
  (await fetch(server.url + "/api/v1/admins", { headers: { authorization: `Bearer ${token}` } })).status;

/** Clicks a submit button and waits for the page the form posts to, whatever its URL. */
async function submit(selector: string): Promise<void> {
  await Promise.all([page.waitForEvent("load"), page.click(selector)]);
}

/** Counts full page loads, so a test can tell an htmx swap from a navigation. */
async function countLoads<T>(action: () => Promise<T>): Promise<{ result: T; loads: number }> {
  let loads = 0;
  const onLoad = () => loads++;
  page.on("load", onLoad);
  try {
    const result = await action();
    return { result, loads };
  } finally {
    page.off("load", onLoad);
  }
}

describe("admin UI", () => {
  test("a fresh install opens on the setup page, which creates the admin and lands on the dashboard", async () => {
    await page.goto(server.url + "/");
    expect(new URL(page.url()).pathname).toBe("/setup");
    await expect(page.locator("h1").textContent()).resolves.toBe("Welcome to Switchboard");
    await page.fill("#firstname", "Ada");
    await page.fill("#lastname", "Admin");
    await page.fill("#email", ADMIN.email);
    await page.fill("#password", ADMIN.password);
    await submit("button:has-text('Create administrator')");
    expect(page.url()).toBe(server.url + "/");
    await expect(page.locator("main h1").textContent()).resolves.toBe("Dashboard");
    await expect(page.locator(".user-link").textContent()).resolves.toBe("Ada Admin");
    expect(await page.evaluate(() => typeof (window as unknown as { htmx?: unknown }).htmx)).toBe("object");
    await page.screenshot({ path: "/tmp/dashboard.png", fullPage: true });
  });

  test("the navigation lists every section of the appliance", async () => {
    const labels = (await page.locator("nav.sidebar li").allTextContents()).map((t) =>
      t.trim().replace(/\s+soon$/i, ""),
    );
    expect(labels).toEqual([
      "Dashboard",
      "People",
      "Organizations",
      "Tickets",
      "Integrations",
      "Webhooks",
      "CRM Sync",
      "Logs",
      "Settings",
    ]);
    await expect(page.locator('nav.sidebar a[aria-current="page"]').textContent()).resolves.toBe("Dashboard");
    await page.click("nav.sidebar >> text=Settings");
    await page.waitForURL(server.url + "/settings");
    await expect(page.locator('nav.sidebar a[aria-current="page"]').textContent()).resolves.toBe("Settings");
  });

  let token = "";
  test("creating an API token shows it once", async () => {
    await page.click("a.tile:has-text('API tokens')");
    await page.waitForURL(server.url + "/tokens");
    await page.fill("#name", "billing-system");
    await submit("button:has-text('Create token')");
    token = (await page.locator("#new-token").textContent())!.trim();
    expect(token).toMatch(/^sbt_/);
    await expect(page.locator("#token-created").textContent()).resolves.toContain("it is not shown again");
    expect(await apiStatus(token)).toBe(200);
    await page.goto(server.url + "/tokens"); // a later visit (a reload would post the form again)
    await expect(page.locator("#new-token").count()).resolves.toBe(0);
    expect(await page.content()).not.toContain(token);
    await expect(page.locator("#token-list tbody tr").first().textContent()).resolves.toContain("billing-system");
  });

  test("signing out returns to the login page", async () => {
    await submit("button:has-text('Sign out')");
    expect(new URL(page.url()).pathname).toBe("/login");
    await expect(page.locator(".flash").textContent()).resolves.toContain("You are signed out.");
    await page.goto(server.url + "/tokens");
    expect(new URL(page.url()).pathname).toBe("/login");
  });

  test("a wrong password shows an error, keeps the email and puts the cursor in the password", async () => {
    await page.fill("#email", ADMIN.email);
    await page.fill("#password", "not the password");
    await submit("button:has-text('Sign in')");
    await expect(page.locator(".flash-error").textContent()).resolves.toBe("Email or password is wrong.");
    await expect(page.inputValue("#email")).resolves.toBe(ADMIN.email);
    await expect(page.inputValue("#password")).resolves.toBe("");
    // Retyping the password is all that is left to do: focus waits there, and the error describes it.
    await page.waitForFunction(() => document.activeElement?.id === "password");
    await expect(page.getAttribute("#password", "aria-describedby")).resolves.toBe("login-error");
  });

  test("the right password signs in and returns to the page asked for", async () => {
    await page.goto(server.url + "/tokens");
    await page.fill("#email", ADMIN.email);
    await page.fill("#password", ADMIN.password);
    await submit("button:has-text('Sign in')");
    expect(page.url()).toBe(server.url + "/tokens");
    await expect(page.locator("main h1").textContent()).resolves.toBe("API tokens");
  });

  test("a form with a tampered CSRF token is refused with a 403 page", async () => {
    await page.fill("#name", "forged");
    await page.evaluate(() => {
      document.querySelectorAll<HTMLInputElement>("input[name=_csrf]").forEach((input) => {
        input.value = "tampered";
      });
    });
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST"),
      submit("button:has-text('Create token')"),
    ]);
    expect(response.status()).toBe(403);
    await expect(page.locator("h1").textContent()).resolves.toBe("403 · Forbidden");
    await expect(page.locator("main").textContent()).resolves.toContain("CSRF token");
    const names = (await rowsOf<{ name: string }>(server.ctx.db, "SELECT name FROM api_tokens")).map((r) => r.name);
    expect(names).not.toContain("forged");
  });

  test("Revoke asks for confirmation, then removes the row without a page load", async () => {
    await page.goto(server.url + "/tokens");
    const row = page.locator("#token-list tbody tr", { hasText: "billing-system" });
    await expect(row.count()).resolves.toBe(1);
    const dialogs: string[] = [];
    const accept = (d: import("playwright-core").Dialog) => {
      dialogs.push(d.message());
      void d.accept();
    };
    page.on("dialog", accept);
    try {
      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
      const { loads } = await countLoads(async () => {
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.url().endsWith("/revoke")),
          row.locator("button:has-text('Revoke')").click(),
        ]);
        expect(response.status()).toBe(200);
        await row.waitFor({ state: "detached" });
      });
      expect(loads).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    } finally {
      page.off("dialog", accept);
    }
    expect(dialogs).toEqual(["Revoke billing-system? Programs using it stop working at once."]);
    expect(await apiStatus(token)).toBe(401);
  });

  test("dismissing the confirmation keeps the token", async () => {
    await page.fill("#name", "kept");
    await submit("button:has-text('Create token')");
    const kept = (await page.locator("#new-token").textContent())!.trim();
    const dismiss = (d: import("playwright-core").Dialog) => void d.dismiss();
    page.on("dialog", dismiss);
    try {
      await page.locator("#token-list tbody tr", { hasText: "kept" }).locator("button:has-text('Revoke')").click();
      await page.waitForTimeout(300); // nothing is sent; give a wrong request the chance to show up
    } finally {
      page.off("dialog", dismiss);
    }
    await expect(page.locator("#token-list tbody tr", { hasText: "kept" }).count()).resolves.toBe(1);
    expect(await apiStatus(kept)).toBe(200);
  });

  test("a refused htmx Revoke keeps the row and shows the error instead", async () => {
    await page.goto(server.url + "/tokens");
    const kept = page.locator("#token-list tbody tr", { hasText: "kept" });
    await page.evaluate(() =>
      document.body.setAttribute("hx-headers:inherited", JSON.stringify({ "X-CSRF-Token": "tampered" })),
    );
    const accept = (d: import("playwright-core").Dialog) => void d.accept();
    page.on("dialog", accept);
    try {
      const { loads } = await countLoads(async () => {
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.url().endsWith("/revoke")),
          kept.locator("button:has-text('Revoke')").click(),
        ]);
        expect(response.status()).toBe(403);
        await page.locator("main h1", { hasText: "403" }).waitFor();
      });
      expect(loads).toBe(0);
    } finally {
      page.off("dialog", accept);
    }
    await expect(page.locator("main").textContent()).resolves.toContain("CSRF token");
    expect(await rowsOf(server.ctx.db, "SELECT revoked_at FROM api_tokens WHERE name = 'kept'")).toEqual([
      { revoked_at: null },
    ]);
    await page.goto(server.url + "/tokens");
    await expect(page.locator("#token-list tbody tr", { hasText: "kept" }).count()).resolves.toBe(1);
  });

  test("no script errors or failed requests along the way", () => {
    expect(problems).toEqual([]);
  });
});
