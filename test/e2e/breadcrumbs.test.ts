import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { apiClient } from "../support/admin-seed";
import { openAdminPage } from "../support/chromium";
import { createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

setDefaultTimeout(60_000);

let server: TestServer;
let chromium: Browser;
let page: Page;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  server = await startTestServer();
  api = apiClient(server.url, await createToken(await setupAdmin(server)));
  ({ chromium, page } = await openAdminPage(server.url, { viewport: { width: 1280, height: 900 } }));
}, 90_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

/** The breadcrumb trail as a reader meets it: each step's text and link, the page itself last. */
const trail = () =>
  page.$$eval("nav[aria-label=Breadcrumb] li", (items) =>
    items.map((li) => ({
      text: li.textContent!.trim(),
      href: li.querySelector("a")?.getAttribute("href") ?? null,
      current: li.querySelector("[aria-current=page]") !== null,
    })),
  );

test("every detail page has breadcrumbs back to its list; list pages need none", async () => {
  const org = await api.post("/organizations", { name: "Crumb Org" });
  const person = await api.post("/users", { email: "crumb@example.com", firstname: "Crumb", lastname: "Person" });
  const group = await api.post("/groups", { name: "Crumb Group" });
  const ticket = await api.post("/tickets", { title: "Crumb ticket", customer_id: person.id, article: { body: "Hi" } });
  const field = await api.post("/custom_fields", { object_type: "user", name: "crumb", label: "Crumb", type: "text" });
  const hook = await api.post("/webhooks", { name: "Crumb hook", url: "http://127.0.0.1:9/crumbs" });
  const trigger = await api.post("/triggers", {
    name: "Crumb trigger",
    events: ["user.created"],
    webhook_ids: [hook.id],
  });
  const sync = await api.post("/crm_syncs", {
    name: "Crumb CRM",
    create: {
      unique_id_path: "$.id",
      method: "POST",
      url: "http://127.0.0.1:9/people",
      data: '{"e": "{{person.email}}"}',
    },
  });
  const delivery = await api.post(`/webhooks/${hook.id}/test`, {});

  const pages: [string, string, string][] = [
    [`/people/${person.id}`, "People", "/people"],
    [`/organizations/${org.id}`, "Organizations", "/organizations"],
    [`/tickets/${ticket.id}`, "Tickets", "/tickets"],
    [`/groups/${group.id}`, "Groups", "/groups"],
    [`/custom-fields/${field.id}`, "Custom fields", "/custom-fields"],
    [`/webhooks/${hook.id}`, "Webhooks", "/webhooks"],
    [`/webhooks/${hook.id}/deliveries/${delivery.id}`, "Webhooks", "/webhooks"],
    [`/triggers/${trigger.id}`, "Triggers", "/triggers"],
    [`/crm-sync/${sync.id}`, "CRM Sync", "/crm-sync"],
    [`/crm-sync/${sync.id}/users/${person.id}`, "CRM Sync", "/crm-sync"],
    ["/integrations/clearbit", "Integrations", "/integrations"],
    ["/account/sessions", "Account", "/account"],
  ];
  for (const [path, list, href] of pages) {
    await page.goto(server.url + path);
    const steps = await trail();
    expect({ path, first: steps[0] }).toEqual({ path, first: { text: list, href, current: false } });
    expect({ path, last: steps.at(-1)!.current }).toEqual({ path, last: true });
    expect(steps.length).toBeGreaterThanOrEqual(2);
  }
  // Below a webhook, the trail names it.
  await page.goto(`${server.url}/webhooks/${hook.id}/deliveries/${delivery.id}`);
  expect((await trail()).map((s) => s.text)).toEqual(["Webhooks", "Crumb hook", "Deliveries", delivery.delivery_id]);
  for (const list of ["/people", "/webhooks", "/logs"]) {
    await page.goto(server.url + list);
    expect(await page.locator("nav[aria-label=Breadcrumb]").count()).toBe(0);
  }
});
