import { chromium, type Browser } from "playwright-core";

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
