import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { apiClient } from "../support/admin-seed";
import { openAdminPage } from "../support/chromium";
import { createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

setDefaultTimeout(30_000);

/**
 * People, tickets, custom fields and write keys in real headless Chromium: htmx 4 swaps (search as
 * you type, Load more, inline validation) and the form posts behind them.
 */
let server: TestServer;
let chromium: Browser;
let page: Page;
let api: ReturnType<typeof apiClient>;
let ticketId: number;
let problems: string[];

beforeAll(async () => {
  server = await startTestServer();
  const admin = await setupAdmin(server);
  api = apiClient(server.url, await createToken(admin));
  await api.post("/organizations", { name: "Umbrella Corp", domain: "umbrella.example" });
  await api.post("/users", {
    email: "alice.wonder@umbrella.example",
    firstname: "Alice",
    lastname: "Wonder",
    organization: "Umbrella Corp",
  });
  await api.post("/users", {
    email: "bob.builder@example.org",
    firstname: "Bob",
    lastname: "Builder",
    phone: "+44 20 7946 0000",
  });
  for (let i = 0; i < 30; i++)
    await api.post("/users", {
      email: `crowd${String(i).padStart(2, "0")}@crowd.example`,
      firstname: "Crowd",
      lastname: `Member ${String(i).padStart(2, "0")}`,
    });
  const alice = (await api.get("/users?email=alice.wonder@umbrella.example")).data[0];
  const ticket = await api.post("/tickets", {
    title: "Cannot export the quarterly report",
    customer_id: alice.id,
    article: {
      body: "Hi,\nthe export button spins forever since Monday.\n\nAlice",
      sender: "Customer",
      type: "email",
      from: "alice.wonder@umbrella.example",
      attachments: [
        {
          filename: "screenshot.png",
          content_type: "image/png",
          data: Buffer.from("not really a png").toString("base64"),
        },
      ],
    },
  });
  ticketId = ticket.id;

  ({ chromium, page, problems } = await openAdminPage(server.url, { viewport: { width: 1280, height: 900 } }));
  page.on("dialog", (d) => d.accept());
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

const rowNames = () => page.locator("#list-results tbody tr:not(.more-row) td:first-child a").allTextContents();

/** Counts full page loads, so a test can tell an htmx swap from a navigation. */
async function countLoads(action: () => Promise<unknown>): Promise<number> {
  let loads = 0;
  const onLoad = () => loads++;
  page.on("load", onLoad);
  try {
    await action();
    return loads;
  } finally {
    page.off("load", onLoad);
  }
}

describe("people in Chromium", () => {
  test("search as you type narrows the list without a page load, and the URL follows", async () => {
    await page.click("nav.sidebar >> text=People");
    await page.waitForURL(/\/people$/);
    expect(await rowNames()).toHaveLength(25);
    await page.screenshot({ path: "/tmp/people-list.png", fullPage: true });
    const loads = await countLoads(async () => {
      await page.locator("#q").pressSequentially("wond", { delay: 30 });
      await page.waitForFunction(() => document.querySelectorAll("#list-results tbody tr").length === 1);
    });
    expect(loads).toBe(0);
    expect(await rowNames()).toEqual(["Alice Wonder"]);
    await expect(page.locator(".list-status").textContent()).resolves.toContain("1 person matching “wond”");
    expect(page.url()).toContain("q=wond");
    // Clearing the search brings everyone back.
    await page.fill("#q", "");
    await page.waitForFunction(() => document.querySelectorAll("#list-results tbody tr:not(.more-row)").length === 25);
  });

  test("sorting keeps the search; Load more appends the next page", async () => {
    await page.click("th >> text=Email");
    await page.waitForFunction(() => document.querySelector("th[aria-sort]")?.textContent?.includes("Email"));
    expect((await rowNames())[0]).toBe("Ada Admin");
    await page.click("th >> text=Email");
    await page.waitForFunction(
      () => document.querySelector("th[aria-sort]")?.getAttribute("aria-sort") === "descending",
    );
    expect((await rowNames())[0]).toBe("Crowd Member 29");
    // The search box now sends the new sort along (the sort state was swapped in out of band).
    await page.fill("#q", "crowd");
    await page.waitForFunction(() => document.querySelector(".list-status")?.textContent?.includes("crowd"));
    expect((await rowNames())[0]).toBe("Crowd Member 29");
    const loads = await countLoads(async () => {
      await page.click("text=Load more");
      await page.waitForFunction(() => document.querySelectorAll("#list-results tbody td:first-child a").length === 30);
    });
    expect(loads).toBe(0);
    const names = await rowNames();
    expect(names.at(-1)).toBe("Crowd Member 00");
    expect(new Set(names).size).toBe(30);
    expect(await page.locator("#list-more").count()).toBe(0);
  });

  test("create: a bad email is shown inline without losing what was typed; the fix saves", async () => {
    await page.goto(server.url + "/people");
    await Promise.all([page.waitForURL(/\/people\/new$/), page.click("text=New person")]);
    await page.fill("#f-firstname", "Carol");
    await page.fill("#f-lastname", "Danvers");
    await page.fill("#f-email", "carol@");
    await page.fill("#f-phone", "+1 202 555 0199");
    await page.fill("#f-organization", "Umbrella Corp");
    await page.check("#f-vip");
    const loads = await countLoads(async () => {
      await page.click("button:has-text('Create person')");
      await page.waitForSelector("#f-email-error .field-error");
    });
    expect(loads).toBe(0);
    await expect(page.locator("#f-email-error").textContent()).resolves.toContain(
      "Email must be a valid email address",
    );
    await expect(page.getAttribute("#f-email", "aria-invalid")).resolves.toBe("true");
    await expect(page.inputValue("#f-firstname")).resolves.toBe("Carol");
    await expect(page.inputValue("#f-phone")).resolves.toBe("+1 202 555 0199");
    await expect(page.inputValue("#f-organization")).resolves.toBe("Umbrella Corp");
    expect(await page.isChecked("#f-vip")).toBe(true);
    // The invalid field has focus, so a keyboard user lands on it.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("f-email");

    await page.fill("#f-email", "carol.danvers@umbrella.example");
    await Promise.all([page.waitForURL(/\/people\/\d+$/), page.click("button:has-text('Create person')")]);
    await expect(page.locator(".flash-success").textContent()).resolves.toContain("Carol Danvers created.");
    await expect(page.locator("h1").textContent()).resolves.toContain("Carol Danvers");
    await expect(page.locator("h1 .badge-vip").count()).resolves.toBe(1);
  });

  test("edit a field: its provenance becomes ui and the timeline shows the change", async () => {
    const bob = (await api.get("/users?email=bob.builder@example.org")).data[0];
    await page.goto(`${server.url}/people/${bob.id}`);
    await expect(page.locator('[data-field="phone"]').textContent()).resolves.toBe("api");
    // Details first; the form opens with Edit, and a save goes back to the details.
    expect(await page.locator("#record-form").count()).toBe(0);
    await Promise.all([page.waitForURL(/\/edit$/), page.click(".page-head a:has-text('Edit')")]);
    expect(await page.locator('[data-field="phone"]').count()).toBe(0);
    await page.fill("#f-phone", "+44 20 7946 0999");
    await Promise.all([page.waitForEvent("load"), page.click("button:has-text('Save changes')")]);
    await expect(page.locator(".flash-success").textContent()).resolves.toContain("Bob Builder saved.");
    await expect(page.locator('[data-field="phone"]').textContent()).resolves.toBe("ui");
    await expect(page.locator('[data-field="firstname"]').textContent()).resolves.toBe("api");
    const latest = page.locator(".timeline-item").first();
    await expect(latest.locator("strong").textContent()).resolves.toBe("Updated");
    await expect(latest.locator(".badge-source").textContent()).resolves.toBe("ui");
    await expect(latest.locator(".changes").textContent()).resolves.toContain("+44 20 7946 0999");
    await page.screenshot({ path: "/tmp/person-page.png", fullPage: true });
  });

  test("a custom field defined in Settings is filled on a person", async () => {
    await page.goto(server.url + "/settings");
    await Promise.all([page.waitForURL(/\/custom-fields$/), page.click("text=Custom fields")]);
    await page.selectOption("#f-object_type", "user");
    await page.fill("#f-label", "Plan");
    await page.fill("#f-name", "plan");
    await page.selectOption("#f-type", "select");
    await page.fill("#f-options", "free\nteam\nenterprise");
    await Promise.all([page.waitForEvent("load"), page.click("button:has-text('Add field')")]);
    await expect(page.locator(".flash-success").textContent()).resolves.toContain("Field Plan added to people.");

    const alice = (await api.get("/users?email=alice.wonder@umbrella.example")).data[0];
    await page.goto(`${server.url}/people/${alice.id}/edit`);
    await expect(page.locator("fieldset legend").textContent()).resolves.toBe("Custom fields");
    await page.selectOption("#f-plan", "enterprise");
    await Promise.all([page.waitForEvent("load"), page.click("button:has-text('Save changes')")]);
    await expect(page.locator('[data-field="plan"]').textContent()).resolves.toBe("ui");
    expect((await api.get(`/users/${alice.id}`)).plan).toBe("enterprise");
  });

  test("deleting a person with tickets offers to reassign them, in place", async () => {
    const alice = (await api.get("/users?email=alice.wonder@umbrella.example")).data[0];
    await page.goto(`${server.url}/people/${alice.id}`);
    const loads = await countLoads(async () => {
      await page.click("#delete-zone button:has-text('Delete person')");
      await page.waitForSelector("#reassign_to");
    });
    expect(loads).toBe(0);
    await expect(page.locator("#delete-zone .flash-error").textContent()).resolves.toContain(
      "is customer or owner of tickets",
    );
    // The person stays: nothing was deleted.
    expect((await api.get(`/users/${alice.id}`)).id).toBe(alice.id);
  });
});

describe("tickets in Chromium", () => {
  test("the ticket page shows the conversation; an article is added through the form", async () => {
    await page.goto(server.url + "/tickets");
    await Promise.all([page.waitForURL(/\/tickets\/\d+$/), page.click("text=Cannot export the quarterly report")]);
    await expect(page.locator(".article-files a").textContent()).resolves.toContain("screenshot.png");
    // An empty article is refused inline, in place.
    const loads = await countLoads(async () => {
      await page.click("button:has-text('Add article')");
      await page.waitForSelector("#f-body-error .field-error");
    });
    expect(loads).toBe(0);
    await page.fill("#f-body", "Thanks Alice, we are on it.\nA fix ships tomorrow.");
    await page.selectOption("#f-type", "email");
    await Promise.all([page.waitForEvent("load"), page.click("button:has-text('Add article')")]);
    await expect(page.locator(".flash-success").textContent()).resolves.toContain("Article added.");
    await expect(page.locator(".article").count()).resolves.toBe(2);
    await expect(page.locator(".article").last().locator(".article-body").textContent()).resolves.toBe(
      "Thanks Alice, we are on it.\nA fix ships tomorrow.",
    );

    await page.selectOption("#f-state", "open");
    await page.selectOption("#f-priority", "3 high");
    // The owner is picked from the admins and agents.
    await page.focus("#f-owner_id");
    await page.click("#f-owner_id-options [role=option]:has-text('Ada Admin')");
    await Promise.all([page.waitForEvent("load"), page.click("button:has-text('Update ticket')")]);
    expect(await api.get(`/tickets/${ticketId}`)).toMatchObject({ state: "open", priority: "3 high" });
    await expect(page.locator(".facts").textContent()).resolves.toContain("Ada Admin");
    await expect(page.locator(".page-head .badge").textContent()).resolves.toBe("open");
    await page.screenshot({ path: "/tmp/ticket-page.png", fullPage: true });
  });

  test("the state filter narrows the list as it changes", async () => {
    await api.post("/tickets", {
      title: "Closed long ago",
      customer_id: (await api.get("/users?email=bob.builder@example.org")).data[0].id,
      state: "closed",
    });
    await page.goto(server.url + "/tickets");
    expect(await page.locator("#list-results tbody tr").count()).toBe(2);
    await page.selectOption("#filter-state", "closed");
    await page.waitForFunction(() => document.querySelectorAll("#list-results tbody tr").length === 1);
    await expect(page.locator("#list-results tbody td:nth-child(2)").textContent()).resolves.toBe("Closed long ago");
  });
});

describe("write keys in Chromium", () => {
  test("a write key is created, shown once, and revoked in place", async () => {
    await page.goto(server.url + "/settings");
    await Promise.all([page.waitForURL(/\/write-keys$/), page.click("text=Write keys")]);
    await page.fill("#name", "marketing site");
    await Promise.all([page.waitForEvent("load"), page.click("button:has-text('Create write key')")]);
    const key = (await page.locator("#new-write-key").textContent())!;
    expect(key).toMatch(/^wk_/);
    await expect(page.locator("#write-key-list tbody tr").count()).resolves.toBe(1);
    const loads = await countLoads(async () => {
      await page.click("#write-key-list button:has-text('Revoke')");
      await page.waitForFunction(() => !document.querySelector("#write-key-list button"));
    });
    expect(loads).toBe(0);
    await page.reload();
    await expect(page.locator("#write-key-list tbody").textContent()).resolves.toContain("No write keys yet.");
  });

  test("no page errors along the way", () => {
    expect(problems).toEqual([]);
  });
});
