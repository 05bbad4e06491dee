import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { startApi, type Api } from "../support/api";
import { openAdminPage } from "../support/chromium";
import { ADMIN } from "../support/server";
import { writeRows } from "../support/store";

setDefaultTimeout(60_000);

/**
 * The event catalogue page and the rebuilt trigger editor in real Chromium: checkboxes beside their
 * labels, rows added and removed, fields offered for the chosen events, operators and values that fit
 * the field, a live preview of the unsaved conditions, and a typo'd field refused with every input kept.
 */
let api: Api;
let chromium: Browser;
let page: Page;
let hookId: number;
let problems: string[];

beforeAll(async () => {
  api = await startApi();
  hookId = (await api.call("POST", "/api/v1/webhooks", { name: "Editor hook", url: "http://127.0.0.1:9/x" })).body.id;
  for (const name of ["Acme One", "Acme Two", "Zenith"]) await api.call("POST", "/api/v1/organizations", { name });
  ({ chromium, page, problems } = await openAdminPage(api.server.url, {
    viewport: { width: 1366, height: 900 },
    expectedConsole: /status of 4\d\d/,
  }));
}, 90_000);

afterAll(async () => {
  await chromium?.close();
  await api?.server.close();
});

const rowCount = () => page.locator("#condition-rows .condition-row").count();
const options = (selector: string) =>
  page.locator(selector).evaluate((s: HTMLSelectElement) => [...s.options].map((o) => o.value));

describe("event catalogue page", () => {
  test("linked from the webhook and trigger editors; lists each event with a real example payload", async () => {
    await page.goto(`${api.server.url}/webhooks/${hookId}`);
    await expect(page.locator("#event-catalogue-link").getAttribute("href")).resolves.toBe("/event-types");
    await page.goto(`${api.server.url}/triggers/new`);
    await Promise.all([page.waitForEvent("load"), page.click(".page-head >> text=Event catalogue")]);
    expect(new URL(page.url()).pathname).toBe("/event-types");
    await expect(page.locator(".event-type").count()).resolves.toBe(14);
    const ticket = page.locator("#ticket-created");
    await expect(ticket.textContent()).resolves.toContain("A ticket was opened");
    await ticket.locator("summary >> text=Example payload").click();
    const example = JSON.parse((await ticket.locator(".example-payload").textContent())!);
    expect(example.ticket.customer.firstname).toBe('Emily "Em"');
    expect(example.article.sender).toBe("Customer");
    await ticket.locator("summary >> text=Custom-payload tokens").click();
    await expect(ticket.locator(".token-list").textContent()).resolves.toContain("{{ticket.state.name}}");
    await ticket.locator("summary >> text=Condition fields").click();
    await expect(ticket.locator(".catalogue-fields").textContent()).resolves.toContain("ticket.customer.email");
  });
});

describe("trigger editor", () => {
  test("checkboxes sit beside their labels", async () => {
    await page.goto(`${api.server.url}/triggers/new`);
    const label = page.locator("#trigger-events label.check").first();
    const box = (await label.locator("input").boundingBox())!;
    const text = (await label.locator("span").boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(text.x);
    expect(Math.abs(box.y + box.height / 2 - (text.y + text.height / 2))).toBeLessThan(6);
  });

  test("rows are added and removed; fields, operators and values follow the events and the field", async () => {
    await page.goto(`${api.server.url}/triggers/new`);
    await page.fill("#name", "Acme organizations");
    await page.check("input[name=events][value='organization.created']");
    expect(await rowCount()).toBe(1);
    // The field list offers the chosen event's fields only.
    const fields = await options("#cond_field_0");
    expect(fields).toContain("organization.name");
    expect(fields).not.toContain("ticket.title");
    await page.click("#add-condition");
    await page.click("#add-condition");
    await page.click("#add-condition");
    expect(await rowCount()).toBe(4);
    // A yes/no field: a yes/no picker and the operators that fit it.
    await page.selectOption("#cond_field_1", "organization.shared");
    expect(await options("#cond_operator_1")).toEqual(["is", "is_not", "changed", "changed_to"]);
    expect(await options("#cond_value_1")).toEqual(["true", "false"]);
    // A text field: text operators (no "more than"), a typed value.
    await page.selectOption("#cond_field_0", "organization.name");
    expect(await options("#cond_operator_0")).not.toContain("gt");
    await page.selectOption("#cond_operator_0", "starts_with");
    await page.fill("#cond_value_0", "acme");
    await page.locator("#cond_value_0").dispatchEvent("change");
    await page.locator("#condition-rows .condition-row").nth(1).locator(".cond-remove").click();
    await page.locator("#condition-rows .condition-row").nth(1).locator(".cond-remove").click();
    expect(await rowCount()).toBe(2);
    // The live preview judges the unsaved conditions against the recent events.
    await page.waitForSelector("#trigger-preview-result >> text=Would have matched 2 of the last 3 events");
    await expect(page.locator("#trigger-preview-result li").count()).resolves.toBe(2);
    await expect(page.locator("#trigger-preview-result").textContent()).resolves.toContain("organization.created");
    // Ticket states come from a list.
    await page.check("input[name=events][value='ticket.updated']");
    // Rows 1 and 2 were removed: the second row is row 3.
    await page.selectOption("#cond_field_3", "ticket.state");
    expect(await options("#cond_value_3")).toEqual(["new", "open", "pending", "closed"]);
    await page.selectOption("#cond_field_3", "");
    await page.uncheck("input[name=events][value='ticket.updated']");
    await page.check("input[name=webhook_ids]");
    await Promise.all([page.waitForEvent("load"), page.click("#trigger-form button.btn-primary")]);
    expect(new URL(page.url()).pathname).toMatch(/^\/triggers\/\d+$/);
    await expect(page.locator("#cond_field_0").inputValue()).resolves.toBe("organization.name");
    await expect(page.locator("#cond_value_0").inputValue()).resolves.toBe("acme");
    expect(problems).toEqual([]);
  });

  test("a field the chosen events lack is refused, naming it, and the form keeps every input", async () => {
    const trigger = (await api.call("GET", "/api/v1/triggers")).body.data.find(
      (t: { name: string }) => t.name === "Acme organizations",
    );
    await page.goto(`${api.server.url}/triggers/${trigger.id}`);
    await page.uncheck("input[name=events][value='organization.created']");
    await page.check("input[name=events][value='ticket.created']");
    // Marked at once in the page, and refused by the server.
    await expect(page.locator("#condition-rows .cond-field-error").first().textContent()).resolves.toContain(
      "unknown field organization.name",
    );
    await page.click("#add-condition");
    await page.selectOption("#cond_field_2", "ticket.customer.vip");
    await page.selectOption("#cond_value_2", "true");
    await page.fill("#note", "kept note");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith(`/triggers/${trigger.id}`)),
      page.click("#trigger-form button.btn-primary"),
    ]);
    expect(response.status()).toBe(422);
    await page.waitForLoadState("load");
    await expect(page.locator(".flash-error").textContent()).resolves.toContain(
      "unknown field organization.name: no ticket.created payload has it",
    );
    await expect(page.locator("#condition-rows .cond-field-error").first().textContent()).resolves.toContain(
      "organization.name",
    );
    await expect(page.isChecked("input[name=events][value='ticket.created']")).resolves.toBe(true);
    await expect(page.isChecked("input[name=events][value='organization.created']")).resolves.toBe(false);
    await expect(page.locator("#cond_field_0").inputValue()).resolves.toBe("organization.name");
    await expect(page.locator("#cond_operator_0").inputValue()).resolves.toBe("starts_with");
    await expect(page.locator("#cond_value_0").inputValue()).resolves.toBe("acme");
    await expect(page.locator("#cond_field_2").inputValue()).resolves.toBe("ticket.customer.vip");
    await expect(page.locator("#cond_value_2").inputValue()).resolves.toBe("true");
    await expect(page.locator("#note").inputValue()).resolves.toBe("kept note");
    await expect(page.isChecked("input[name=webhook_ids]")).resolves.toBe(true);
    const saved = await api.call("GET", `/api/v1/triggers/${trigger.id}`);
    expect(saved.body.events).toEqual(["organization.created"]);
    expect(problems).toEqual([]);
  });
});

describe("a trigger saved after the session ended", () => {
  test("comes back after signing in with every row, including rows added beyond the page's", async () => {
    await page.goto(`${api.server.url}/triggers/new`);
    await page.fill("#name", "Kept across sign-in");
    await page.check("input[name=events][value='organization.updated']");
    await page.selectOption("#cond_field_0", "organization.name");
    await page.selectOption("#cond_operator_0", "contains");
    await page.fill("#cond_value_0", "rocket");
    await page.click("#add-condition");
    await page.click("#add-condition");
    await page.locator("#condition-rows .condition-row").nth(1).locator(".cond-remove").click();
    await page.selectOption("#cond_field_2", "organization.shared");
    await page.selectOption("#cond_value_2", "false");
    await page.check("input[name=webhook_ids]");
    await page.waitForSelector("#trigger-preview-result");
    // Every debounced preview (at most 600 ms after the last input) has answered: the save is the only
    // request made without a session.
    await page.waitForTimeout(700);
    await page.waitForLoadState("networkidle");
    await writeRows(api.server.ctx.db, "DELETE FROM sessions");
    await Promise.all([page.waitForURL(/\/login\?next=/), page.click("#trigger-form button.btn-primary")]);
    await page.fill("#email", ADMIN.email);
    await page.fill("#password", ADMIN.password);
    await Promise.all([page.waitForURL(`${api.server.url}/triggers/new`), page.click("button[type=submit]")]);
    await page.locator("#trigger-form .flash-info").waitFor();
    await expect(page.inputValue("#name")).resolves.toBe("Kept across sign-in");
    await expect(page.isChecked("input[name=events][value='organization.updated']")).resolves.toBe(true);
    await expect(page.inputValue("#cond_field_0")).resolves.toBe("organization.name");
    await expect(page.inputValue("#cond_operator_0")).resolves.toBe("contains");
    await expect(page.inputValue("#cond_value_0")).resolves.toBe("rocket");
    await expect(page.inputValue("#cond_field_2")).resolves.toBe("organization.shared");
    await expect(page.inputValue("#cond_value_2")).resolves.toBe("false");
    await Promise.all([page.waitForEvent("load"), page.click("#trigger-form button.btn-primary")]);
    expect(new URL(page.url()).pathname).toMatch(/^\/triggers\/\d+$/);
    const saved = (await api.call("GET", "/api/v1/triggers")).body.data.find(
      (t: { name: string }) => t.name === "Kept across sign-in",
    );
    expect(saved.conditions).toEqual([
      { field: "organization.name", operator: "contains", value: "rocket" },
      { field: "organization.shared", operator: "is", value: "false" },
    ]);
    expect(problems).toEqual([]);
  });
});
