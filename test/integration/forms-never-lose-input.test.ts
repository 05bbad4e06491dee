import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiClient, decodeEntities } from "../support/admin-seed";
import { ADMIN, Browser, createToken, csrfOf, setupAdmin, startTestServer, type TestServer } from "../support/server";
import { rowsOf, writeRows } from "../support/store";

/**
 * Issue 14, items 4 and 5 without JavaScript: an over-limit upload is answered with a page naming the
 * limit (not JSON), and a form posted after the session ended is kept and filled in again after sign-in.
 */
let server: TestServer;
let admin: Browser;
let ticketId: number;
const IMPORT_LIMIT = 100 * 1024;

beforeAll(async () => {
  server = await startTestServer({ importLimit: String(IMPORT_LIMIT) });
  admin = await setupAdmin(server);
  const api = apiClient(server.url, await createToken(admin));
  const customer = await api.post("/users", { email: "cleo@example.com", firstname: "Cleo" });
  const ticket = await api.post("/tickets", {
    title: "Printer on fire",
    customer_id: customer.id,
    article: { body: "It smokes.", sender: "Customer", type: "email" },
  });
  ticketId = ticket.id;
});
afterAll(() => server.close());

const articles = async () => (await rowsOf<{ n: number }>(server.ctx.db, "SELECT count(*) AS n FROM articles"))[0]!.n;
const endSessions = () => writeRows(server.ctx.db, "DELETE FROM sessions");

describe("over-limit uploads on admin pages", () => {
  test("a ticket attachment over the body limit gets an HTML page naming the limit, with a Back link", async () => {
    const before = await articles();
    const res = await admin.request(`/tickets/${ticketId}/articles`, {
      method: "POST",
      headers: {
        "content-type": "multipart/form-data; boundary=x",
        referer: `${server.url}/tickets/${ticketId}`,
      },
      body: new Uint8Array(Math.round(3.2 * 1024 * 1024)),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const page = decodeEntities(await res.text());
    expect(page).toContain("The upload is 3.2 MB; the limit is 1 MB. Nothing was saved");
    expect(page).toContain(`<a href="/tickets/${ticketId}">Back to the form</a>`);
    expect(await articles()).toBe(before);
  });

  test("a CSV over the import limit gets the same page; the API still answers JSON", async () => {
    const res = await admin.request("/people/import", {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=x", referer: `${server.url}/people/import` },
      body: new Uint8Array(IMPORT_LIMIT * 2),
    });
    expect(res.status).toBe(413);
    expect(decodeEntities(await res.text())).toContain("The upload is 200 KB; the limit is 100 KB.");
    const api = await fetch(server.url + "/api/v1/users/import", {
      method: "POST",
      headers: { "content-type": "text/csv" },
      body: new Uint8Array(IMPORT_LIMIT * 2),
    });
    expect((await api.json()).error.code).toBe("payload_too_large");
  });

  test("the forms name the limit and carry it for the browser's own check", async () => {
    const ticketPage = await (await admin.get(`/tickets/${ticketId}`)).text();
    expect(ticketPage).toContain('data-max-bytes="1048576"');
    expect(ticketPage).toContain("up to 1 MB in all");
    expect(ticketPage).toContain('<script src="/assets/forms.js" defer></script>');
    const importPage = await (await admin.get("/people/import")).text();
    expect(importPage).toContain(`data-max-bytes="${IMPORT_LIMIT}"`);
    const script = await fetch(server.url + "/assets/forms.js");
    expect(script.headers.get("content-type")).toStartWith("text/javascript");
    expect(await script.text()).toContain("data-max-bytes");
  });
});

describe("a save after the session ended", () => {
  test("goes to sign-in saying nothing was saved, and the form comes back filled in once", async () => {
    const browser = new Browser(server.url);
    const signedIn = await browser.submit("/login", "/login", ADMIN);
    expect(signedIn.status).toBe(303);
    const csrf = csrfOf(await (await browser.get(`/tickets/${ticketId}`)).text());
    await endSessions();
    const before = await articles();
    const res = await browser.request(`/tickets/${ticketId}/articles`, {
      method: "POST",
      headers: { referer: `${server.url}/tickets/${ticketId}` },
      form: { _csrf: csrf, type: "phone", body: "Called back: toner replaced", webhook_secret: "hunter2" },
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/login?next=${encodeURIComponent(`/tickets/${ticketId}`)}`);
    expect(await articles()).toBe(before);

    const login = await browser.get(res.headers.get("location")!);
    const loginPage = decodeEntities(await login.text());
    expect(loginPage).toContain(
      "Your session expired; nothing was saved. Sign in and your changes will be filled in again.",
    );
    expect(loginPage).not.toContain("Sign out");
    const back = await browser.request("/login", {
      method: "POST",
      form: { _csrf: csrfOf(loginPage), email: ADMIN.email, password: ADMIN.password, next: `/tickets/${ticketId}` },
    });
    expect(back.headers.get("location")).toBe(`/tickets/${ticketId}`);

    const html = await (await browser.get(`/tickets/${ticketId}`)).text();
    const kept = /<div id="kept-form" hidden data-action="([^"]+)" data-fields="([^"]+)">/.exec(html);
    expect(decodeEntities(kept![1]!)).toBe(`/tickets/${ticketId}/articles`);
    expect(JSON.parse(decodeEntities(kept![2]!))).toEqual({ type: ["phone"], body: ["Called back: toner replaced"] });
    const form = decodeEntities(html);
    // Filled in on the server too, for a browser without JavaScript.
    expect(form).toMatch(/<textarea id="f-body"[^>]*>Called back: toner replaced<\/textarea>/);
    expect(form).toContain('<option value="phone" selected>');
    expect(form).not.toContain("hunter2");
    // Once only.
    expect(await (await browser.get(`/tickets/${ticketId}`)).text()).not.toContain("kept-form");
  });

  test("a large body after the session ended is not read, and the admin is told nothing was saved", async () => {
    const browser = await (async () => {
      const b = new Browser(server.url);
      await b.submit("/login", "/login", ADMIN);
      return b;
    })();
    await endSessions();
    const res = await browser.request(`/tickets/${ticketId}/articles`, {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=x", referer: `${server.url}/tickets/${ticketId}` },
      body: new Uint8Array(200 * 1024),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/login?next=${encodeURIComponent(`/tickets/${ticketId}`)}`);
    expect(decodeEntities(await (await browser.follow(res)).text())).toContain(
      "Your session expired; nothing was saved. Sign in again.",
    );
  });

  test("no page shows a signed-out admin as signed in", async () => {
    const browser = new Browser(server.url);
    await browser.submit("/login", "/login", ADMIN);
    expect(await (await browser.get("/")).text()).toContain("Sign out");
    await endSessions();
    for (const path of ["/no-such-page", "/tickets/abc", "/login"]) {
      const page = await (await browser.get(path)).text();
      expect(page, path).not.toContain("Sign out");
      expect(page, path).not.toContain("Ada Admin");
    }
  });
});
