import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { openAdminPage } from "../support/chromium";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { setupAdmin, startTestServer, type TestServer } from "../support/server";
import { rowsOf } from "../support/store";

setDefaultTimeout(60_000);

/**
 * Reloading after any create, rotate or redeliver in Chromium posts nothing again (Post/Redirect/Get):
 * the rows are counted in the database before and after the reload, and a secret shown once is gone
 * after it. The webhook form also keeps the method and authentication chosen through a validation error.
 */
let server: TestServer;
let receiver: Receiver;
let chromium: Browser;
let page: Page;

beforeAll(async () => {
  receiver = startReceiver(() => ({ status: 500, body: "down for maintenance" }));
  server = await startTestServer();
  await setupAdmin(server);
  ({ chromium, page } = await openAdminPage(server.url, { viewport: { width: 1280, height: 900 } }));
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await receiver?.stop();
});

const count = async (table: string, where = "1 = 1") =>
  (await rowsOf<{ n: number }>(server.ctx.db, `SELECT count(*) AS n FROM ${table} WHERE ${where}`))[0]!.n;
const path = () => new URL(page.url()).pathname;

/** Submits with a click and waits for the page the POST leads to. */
async function submit(selector: string) {
  await Promise.all([page.waitForEvent("load"), page.click(selector)]);
}

/** Reloads as an admin would; nothing may be posted again. */
async function reload() {
  await page.reload({ waitUntil: "load" });
}

describe("reload after a POST never repeats it", () => {
  let hookId = 0;

  test("create webhook: an error keeps method and auth; a reload after creating makes no second one", async () => {
    await page.goto(server.url + "/webhooks/new");
    await page.fill("#name", "Reload hook");
    await page.fill("#url", "not a url");
    await page.selectOption("#method", "PATCH");
    await page.selectOption("#auth_type", "basic");
    await page.fill("#auth_username", "bob");
    await page.fill("#auth_password", "typed-password-1");
    await page.fill("#max_attempts", "1");
    await submit("#webhook-form button.btn-primary");
    expect(await page.inputValue("#method")).toBe("PATCH");
    expect(await page.inputValue("#auth_type")).toBe("basic");
    expect(await page.inputValue("#auth_username")).toBe("bob");
    expect(await page.inputValue("#auth_password")).toBe("");
    expect(await page.locator("#auth_password-error").textContent()).toContain("type it again");

    await page.fill("#url", receiver.url + "/reload");
    await page.fill("#auth_password", "typed-password-1");
    await submit("#webhook-form button.btn-primary");
    expect(path()).toMatch(/^\/webhooks\/\d+$/);
    hookId = Number(path().split("/").pop());
    const secret = (await page.locator("#new-secret").textContent())!;
    expect(secret).toMatch(/^whsec_/);
    const [row] = await rowsOf(
      server.ctx.db,
      'SELECT method, auth_type AS "authType" FROM webhooks WHERE id = ?',
      hookId,
    );
    expect(row).toEqual({ method: "PATCH", authType: "basic" });

    expect(await count("webhooks")).toBe(1);
    await reload();
    expect(await count("webhooks")).toBe(1);
    expect(await page.locator("#new-secret").count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
  });

  test("rotate secret: lands on the webhook, not /rotate; the new secret is gone after a reload", async () => {
    await page.fill("#grace_hours", "0");
    await submit("text=Rotate secret");
    expect(path()).toBe(`/webhooks/${hookId}`);
    const secret = (await page.locator("#new-secret").textContent())!;
    expect(secret).toMatch(/^whsec_/);
    const sealed = async () =>
      (
        await rowsOf<{ s: string }>(
          server.ctx.db,
          "SELECT signing_secret_sealed AS s FROM webhooks WHERE id = ?",
          hookId,
        )
      )[0]!.s;
    const before = await sealed();
    await reload();
    expect(await sealed()).toBe(before);
    expect(await page.locator("#new-secret").count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
  });

  test("create token and write key: one row each, the secret shown once", async () => {
    await page.goto(server.url + "/tokens");
    await page.fill("#name", "reload-token");
    await submit("text=Create token");
    expect(path()).toBe("/tokens");
    const token = (await page.locator("#new-token").textContent())!.trim();
    await reload();
    expect(await count("api_tokens", "name = 'reload-token'")).toBe(1);
    expect(await page.locator("#new-token").count()).toBe(0);
    expect(await page.content()).not.toContain(token);

    await page.goto(server.url + "/write-keys");
    await page.fill("#name", "reload-key");
    await submit("text=Create write key");
    expect(path()).toBe("/write-keys");
    const key = (await page.locator("#new-write-key").textContent())!.trim();
    await reload();
    expect(await count("write_keys", "name = 'reload-key'")).toBe(1);
    expect(await page.locator("#new-write-key").count()).toBe(0);
    expect(await page.content()).not.toContain(key);
  });

  test("create trigger and person: one row each after a reload", async () => {
    await page.goto(server.url + "/triggers/new");
    await page.fill("#name", "Reload trigger");
    await page.check('input[name="events"][value="ticket.created"]');
    await page.check(`input[name="webhook_ids"][value="${hookId}"]`);
    await submit("text=Create trigger");
    expect(path()).toMatch(/^\/triggers\/\d+$/);
    await reload();
    expect(await count("webhook_triggers", "name = 'Reload trigger'")).toBe(1);

    await page.goto(server.url + "/people/new");
    await page.fill("#f-email", "reload@example.com");
    await submit("#record-form button.btn-primary");
    expect(path()).toMatch(/^\/people\/\d+$/);
    await reload();
    expect(await count("users", "email = 'reload@example.com'")).toBe(1);
  });

  test("redeliver a failed delivery: one new delivery after a reload", async () => {
    await page.goto(`${server.url}/webhooks/${hookId}`);
    await submit("#send-test");
    const jobId = Number(path().split("/").pop());
    await eventually(async () => (await server.ctx.delivery.getJob(jobId))?.status === "failed");
    await page.reload({ waitUntil: "load" });
    const jobs = await count("delivery_jobs");
    await submit("text=Redeliver");
    expect(path()).toMatch(new RegExp(`^/webhooks/${hookId}/deliveries/\\d+$`));
    expect(await count("delivery_jobs")).toBe(jobs + 1);
    await reload();
    expect(await count("delivery_jobs")).toBe(jobs + 1);
  });
});
