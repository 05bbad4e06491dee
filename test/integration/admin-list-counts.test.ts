import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiClient, decodeEntities, htmxHeaders, pageText } from "../support/admin-seed";
import { type Browser, createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

/**
 * Issue 14 item 17: one empty-state message, and a counter with the real total and how many rows are shown;
 * item 16: long values are clipped or folded with the full value kept on the page.
 */
let server: TestServer;
let admin: Browser;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  server = await startTestServer();
  admin = await setupAdmin(server);
  api = apiClient(server.url, await createToken(admin));
});
afterAll(() => server.close());

const status = (html: string) =>
  /<p class="list-status" id="list-status" role="status"[^>]*>([^<]*)<\/p>/.exec(html)?.[1];
const count = (html: string, text: string) => html.split(text).length - 1;

describe("list counters and empty states", () => {
  test("an empty list says so once; a search without matches says what was searched", async () => {
    const empty = await pageText(admin, "/organizations");
    expect(count(empty, "No organizations")).toBe(1);
    expect(status(empty)).toBe("No organizations yet.");
    const search = await pageText(admin, "/organizations?q=zzz");
    expect(count(search, "No organizations match")).toBe(1);
    expect(status(search)).toBe("No organizations match “zzz”.");
    expect(status(await pageText(admin, "/tickets?state=closed"))).toBe("No tickets match these filters.");
  });

  test("the people counter shows the total and how many are shown, and follows Load more", async () => {
    for (let i = 0; i < 60; i++)
      await api.post("/users", { email: `p${String(i).padStart(2, "0")}@crowd.example`, firstname: "Crowd" });
    const first = await pageText(admin, "/people");
    // The admin and 60 people.
    expect(status(first)).toBe("Showing 25 of 61 people");
    const more = /<a class="btn btn-secondary" href="([^"]+)" hx-get/.exec(first)?.[1];
    expect(more).toContain("shown=25");
    const appended = decodeEntities(
      await (await admin.request(more!, { headers: htmxHeaders("tr#list-more") })).text(),
    );
    expect(appended).toContain(
      '<p class="list-status" id="list-status" role="status" hx-swap-oob="true">Showing 50 of 61 people</p>',
    );
    // Without JavaScript, Load more opens the next page, which says which rows it shows.
    expect(status(await pageText(admin, more!))).toBe("Showing 26–50 of 61 people");
    expect(status(await pageText(admin, "/people?q=crowd"))).toBe("Showing 25 of 60 people matching “crowd”");
    expect(status(await pageText(admin, "/people?q=p07@crowd.example"))).toBe(
      "Showing 1 of 1 person matching “p07@crowd.example”",
    );
  });
});

describe("long text", () => {
  test("a long list cell carries its full text as its title; a long detail value folds behind Show all", async () => {
    const title = "T".repeat(250);
    const note = "n".repeat(5000);
    const p = await api.post("/users", { email: "long@example.org", firstname: "Long", note });
    const t = await api.post("/tickets", { title, customer_id: p.id });
    const list = await pageText(admin, "/tickets");
    expect(list).toContain(`<a href="/tickets/${t.id}" class="cell-clip" title="${title}">${title}</a>`);
    // Short cells stay as they were.
    expect(list).toContain(`<a href="/people/${p.id}">Long</a>`);
    const page = await pageText(admin, `/people/${p.id}`);
    expect(page).toContain(
      `<summary><span class="long-preview">${"n".repeat(300)}…</span> ` +
        '<span class="long-more">Show all 5,000 characters</span></summary>' +
        `<div class="long-full">${note}</div>`,
    );
  });
});
