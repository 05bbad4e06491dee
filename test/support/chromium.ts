import { chromium, type Browser } from "playwright-core";
import { ADMIN } from "./server";

/** Debian's Chromium, headless, with everything that would reach the network or the GPU turned off. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Signs a page in through the login form as the given admin and waits for the dashboard. */
export async function signInPage(
  page: import("playwright-core").Page,
  baseUrl: string,
  admin: { email: string; password: string },
): Promise<void> {
  await page.goto(baseUrl + "/login");
  await page.fill("#email", admin.email);
  await page.fill("#password", admin.password);
  await Promise.all([page.waitForURL(baseUrl + "/"), page.click("button[type=submit]")]);
}

type AdminPageOptions = {
  viewport?: { width: number; height: number };
  /** How long one step may wait, in ms. */
  timeout?: number;
  /**
   * Console errors the test provokes on purpose (a form answering 409/422 is logged by the browser):
   * every other console error lands in `problems`. Null: every console error does.
   */
  expectedConsole?: RegExp | null;
  /** Browser permissions for the server's origin ("clipboard-read"). */
  permissions?: string[];
  /** False for a test that signs in by itself. */
  signIn?: boolean;
};

/**
 * Chromium with one page on the server, signed in as the test administrator. Page errors and
 * unexpected console errors are collected in `problems`, which a test expects to be empty.
 */
export async function openAdminPage(baseUrl: string, options: AdminPageOptions = {}) {
  const chromium = await launchChromium();
  const context = await chromium.newContext(options.viewport ? { viewport: options.viewport } : {});
  if (options.permissions) await context.grantPermissions(options.permissions, { origin: baseUrl });
  const page = await context.newPage();
  page.setDefaultTimeout(options.timeout ?? 15_000);
  const problems: string[] = [];
  const expected = options.expectedConsole === undefined ? /status of 4(09|22)/ : options.expectedConsole;
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !expected?.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  if (options.signIn !== false) await signInPage(page, baseUrl, ADMIN);
  return { chromium, page, problems };
}
