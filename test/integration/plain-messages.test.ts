import { afterAll, beforeAll, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";
import { signIn, type Browser } from "../support/server";

let api: Api;
let browser: Browser;
beforeAll(async () => {
  api = await startApi();
  browser = await signIn(api.server);
}, 30_000);
afterAll(() => api.server.close());

test("the API names each bad field in plain words, never zod's wording", async () => {
  const res = await api.call("POST", "/api/v1/webhooks", {
    name: 42,
    url: "http://hooks.lan/x",
    timeout_seconds: "ten",
  });
  expect(res.status).toBe(422);
  const details = Object.fromEntries(
    (res.body.error.details as { field: string; message: string }[]).map((d) => [d.field, d.message]),
  );
  expect(details).toMatchObject({ name: "must be text", timeout_seconds: "must be a number" });
  expect(JSON.stringify(res.body)).not.toMatch(/Invalid input|expected number|received/);
});

test("an admin form shows the same plain words", async () => {
  const res = await browser.submit("/webhooks/new", "/webhooks", {
    name: "Words",
    url: "http://hooks.lan/x",
    method: "POST",
    auth_type: "none",
    timeout_seconds: "ten",
  });
  expect(res.status).toBe(422);
  const page = await res.text();
  expect(page).toContain("must be a number");
  expect(page).not.toMatch(/Invalid input|expected number|received/);
});
