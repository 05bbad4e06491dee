import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiClient, decodeEntities, htmxHeaders, pageText } from "../support/admin-seed";
import { type Browser, createToken, csrfOf, setupAdmin, startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let admin: Browser;
let api: ReturnType<typeof apiClient>;
let customer: { id: number };
let ticket: { id: number; number: string; article: { attachments: { id: number }[] } };

beforeAll(async () => {
  server = await startTestServer();
  admin = await setupAdmin(server);
  api = apiClient(server.url, await createToken(admin));
  customer = await api.post("/users", { email: "cleo@example.com", firstname: "Cleo" });
  ticket = await api.post("/tickets", {
    title: "Invoice is wrong",
    customer_id: customer.id,
    article: {
      body: "Line 1\n<b>not bold</b>",
      sender: "Customer",
      type: "email",
      attachments: [
        {
          filename: "invoice 1.pdf",
          content_type: "application/pdf",
          data: Buffer.from("%PDF-1.4 fake").toString("base64"),
        },
      ],
    },
  });
  await api.post("/tickets", { title: "Password reset", customer_id: customer.id, state: "closed" });
  await api.post("/tickets", { title: "Feature request: dark mode", customer_id: customer.id, state: "open" });
});
afterAll(() => server.close());

const titlesOf = (html: string) =>
  [...html.matchAll(/<td><a href="\/tickets\/\d+">([^<]+)<\/a><\/td>/g)].map((m) => m[1]);

describe("tickets", () => {
  test("the list shows the newest first, filters by state and searches titles and numbers", async () => {
    expect(titlesOf(await pageText(admin, "/tickets"))).toEqual([
      "Feature request: dark mode",
      "Password reset",
      "Invoice is wrong",
    ]);
    const closed = await pageText(admin, "/tickets?state=closed");
    expect(titlesOf(closed)).toEqual(["Password reset"]);
    expect(closed).toContain('<option value="closed" selected>closed</option>');
    expect(titlesOf(await pageText(admin, "/tickets?q=invoice"))).toEqual(["Invoice is wrong"]);
    expect(titlesOf(await pageText(admin, `/tickets?q=${ticket.number}`))).toEqual(["Invoice is wrong"]);
    expect(titlesOf(await pageText(admin, "/tickets?sort=number&order=asc"))[0]).toBe("Invoice is wrong");
    const fragment = decodeEntities(
      await (await admin.request("/tickets?state=open&q=", { headers: htmxHeaders("div#list-results") })).text(),
    );
    expect(fragment).not.toContain("<html");
    expect(titlesOf(fragment)).toEqual(["Feature request: dark mode"]);
  });

  test("the ticket page shows articles as text, attachment links, the customer and the properties form", async () => {
    const page = await pageText(admin, `/tickets/${ticket.id}`);
    expect(page).toContain(`#${ticket.number}</span> Invoice is wrong`);
    // Article text is text: markup in it is shown, never run.
    expect(page).toContain("Line 1\n&lt;b&gt;not bold&lt;/b&gt;");
    const file = ticket.article.attachments[0]!.id;
    expect(page).toContain(`<a href="/attachments/${file}" download>`);
    expect(page).toContain("invoice 1.pdf");
    expect(page).toContain(`<a href="/people/${customer.id}">Cleo</a>`);
    expect(page).toMatch(/<select id="f-state" name="state" required[^>]*><option value="new" selected>new<\/option>/);
  });

  test("attachments download for signed-in admins only", async () => {
    const file = ticket.article.attachments[0]!.id;
    const res = await admin.get(`/attachments/${file}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("content-disposition")).toBe("attachment; filename*=UTF-8''invoice%201.pdf");
    expect(await res.text()).toBe("%PDF-1.4 fake");
    const anonymous = await fetch(`${server.url}/attachments/${file}`, { redirect: "manual" });
    expect(anonymous.status).toBe(303);
    expect((await admin.get("/attachments/99999")).status).toBe(404);
  });

  test("an HTML article is shown as its text", async () => {
    await api.post("/articles", {
      ticket_id: ticket.id,
      body: "<p>Hello <script>alert(1)</script><b>there</b></p>",
      content_type: "text/html",
    });
    const page = await pageText(admin, `/tickets/${ticket.id}`);
    expect(page).toContain('<div class="article-body">Hello alert(1)there</div>');
  });

  test("an article is added through the form (PRG); an empty one is an inline error", async () => {
    const empty = await admin.submit(`/tickets/${ticket.id}`, `/tickets/${ticket.id}/articles`, {
      type: "note",
      body: "  ",
      subject: "kept",
    });
    expect(empty.status).toBe(422);
    const emptyPage = decodeEntities(await empty.text());
    expect(emptyPage).toMatch(/<div id="f-body-error"><p class="field-error" role="alert">Text /);
    expect(emptyPage).toContain('value="kept"');

    const ok = await admin.submit(`/tickets/${ticket.id}`, `/tickets/${ticket.id}/articles`, {
      type: "note",
      body: "Refund issued.",
      internal: "true",
    });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toMatch(new RegExp(`^/tickets/${ticket.id}#article-\\d+$`));
    const page = await pageText(admin, `/tickets/${ticket.id}`);
    expect(page).toContain("Article added.");
    expect(page).toContain("Refund issued.");
    expect(page).toContain('<span class="badge badge-internal">internal</span>');
    const articles = (await api.get(`/tickets/${ticket.id}/articles`)).data;
    expect(articles.at(-1)).toMatchObject({ body: "Refund issued.", internal: true, type: "note", sender: "Agent" });
  });

  test("an article with an uploaded file (multipart, as the form sends it) stores the attachment", async () => {
    const csrf = csrfOf(await (await admin.get(`/tickets/${ticket.id}`)).text());
    const form = new FormData();
    form.set("_csrf", csrf);
    form.set("type", "note");
    form.set("body", "See the log.");
    form.append("attachments", new File(["line one\n"], "server.log", { type: "text/plain" }));
    const cookie = [...admin.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("; ");
    const res = await fetch(`${server.url}/tickets/${ticket.id}/articles`, {
      method: "POST",
      body: form,
      headers: { cookie },
      redirect: "manual",
    });
    expect(res.status).toBe(303);
    const article = (await api.get(`/tickets/${ticket.id}/articles`)).data.at(-1);
    expect(article.attachments).toMatchObject([{ filename: "server.log", content_type: "text/plain", size: 9 }]);
    expect(await (await admin.get(`/attachments/${article.attachments[0].id}`)).text()).toBe("line one\n");
  });

  test("state, priority, owner change via the properties form; with htmx an error answers the form alone", async () => {
    const me = (await api.get("/users?email=admin@example.com")).data[0];
    const ok = await admin.submit(`/tickets/${ticket.id}`, `/tickets/${ticket.id}`, {
      state: "pending",
      priority: "3 high",
      owner_id: String(me.id),
      group_id: "",
    });
    expect(ok.status).toBe(303);
    expect(await api.get(`/tickets/${ticket.id}`)).toMatchObject({
      state: "pending",
      priority: "3 high",
      owner_id: me.id,
      group_id: null,
    });
    const page = await pageText(admin, `/tickets/${ticket.id}`);
    expect(page).toContain(`Ticket #${ticket.number} updated.`);
    expect(page).toMatch(/<dt>Owner<\/dt><dd>Ada Admin<\/dd>/);
    expect(page).toMatch(/<strong>Updated<\/strong> <span class="badge badge-source">ui<\/span>/);

    const csrf = csrfOf(page);
    const bad = await admin.request(`/tickets/${ticket.id}`, {
      method: "POST",
      headers: htmxHeaders("form#record-form", csrf),
      form: { state: "gone", priority: "3 high", owner_id: "999999" },
    });
    expect(bad.status).toBe(422);
    expect(decodeEntities(await bad.text())).toMatch(
      /^<form id="record-form"[\s\S]*<div id="f-state-error"><p class="field-error" role="alert">State /,
    );
  });
});
