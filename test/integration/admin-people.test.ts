import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiClient, decodeEntities, htmxHeaders, pageText } from "../support/admin-seed";
import { type Browser, createToken, csrfOf, setupAdmin, startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let admin: Browser;
let api: ReturnType<typeof apiClient>;
let csrf: string;

beforeAll(async () => {
  server = await startTestServer();
  admin = await setupAdmin(server);
  api = apiClient(server.url, await createToken(admin));
  csrf = csrfOf(await (await admin.get("/people")).text());
  await api.post("/organizations", { name: "Acme Corp", domain: "acme.example" });
  await api.post("/users", {
    email: "zoe.zimmer@acme.example",
    firstname: "Zoe",
    lastname: "Zimmer",
    organization: "Acme Corp",
  });
  await api.post("/users", { email: "adam.apple@example.org", firstname: "Adam", lastname: "Apple" });
  for (let i = 0; i < 30; i++)
    await api.post("/users", {
      email: `bulk${String(i).padStart(2, "0")}@bulk.example`,
      firstname: "Bulk",
      lastname: `Person ${String(i).padStart(2, "0")}`,
    });
});
afterAll(() => server.close());

const rowsOf = (html: string) => [...html.matchAll(/<a href="\/people\/(\d+)">([^<]+)<\/a>/g)].map((m) => m[2]);

describe("people list", () => {
  test("People, Organizations and Tickets are links in the navigation", async () => {
    const page = await pageText(admin, "/");
    for (const [href, label] of [
      ["/people", "People"],
      ["/organizations", "Organizations"],
      ["/tickets", "Tickets"],
    ])
      expect(page).toContain(`<a href="${href}" >${label}</a>`);
  });

  test("the first page holds 25 people sorted by name, with a Load more link carrying the cursor", async () => {
    const page = await pageText(admin, "/people");
    expect(page).toContain('aria-sort="ascending"');
    const names = rowsOf(page);
    expect(names).toHaveLength(25);
    // The administrator is a person too: Ada Admin sorts before Adam Apple.
    expect(names.slice(0, 2)).toEqual(["Ada Admin", "Adam Apple"]);
    const more = /<tr id="list-more"[\s\S]*?href="([^"]+)"/.exec(page)?.[1];
    expect(more).toContain("cursor=");
    // Without JavaScript the link is the next page, with a way back.
    const next = await pageText(admin, more!);
    const rest = rowsOf(next);
    expect(rest).toHaveLength(8);
    expect(rest).not.toContain(names[0]);
    expect(next).toContain("Back to the first page");
    expect(next).not.toContain('id="list-more"');
    // With htmx, Load more answers only the rows that follow (and no further link).
    const rows = decodeEntities(await (await admin.request(more!, { headers: htmxHeaders("tr#list-more") })).text());
    expect(rows).not.toContain("<html");
    expect(rows).not.toContain("<thead>");
    expect(rowsOf(rows)).toEqual(rest);
  });

  test("search narrows the list; htmx gets the results fragment with the sort state out of band", async () => {
    const page = await pageText(admin, "/people?q=zimm");
    expect(rowsOf(page)).toEqual(["Zoe Zimmer"]);
    const byOrg = rowsOf(await pageText(admin, "/people?q=acme"));
    expect(byOrg).toEqual(["Zoe Zimmer"]);
    const res = await admin.request("/people?q=apple&sort=email&order=desc", {
      headers: htmxHeaders("div#list-results"),
    });
    const fragment = decodeEntities(await res.text());
    expect(fragment).not.toContain("<html");
    expect(rowsOf(fragment)).toEqual(["Adam Apple"]);
    expect(fragment).toContain(
      '<span id="list-state" hx-swap-oob="true">' +
        '<input type="hidden" name="sort" value="email"><input type="hidden" name="order" value="desc">',
    );
    expect(fragment).toContain("1 person matching “apple”");
    expect(rowsOf(await pageText(admin, "/people?q=nobody-like-this"))).toEqual([]);
  });

  test("columns sort both ways through the domain's sorts", async () => {
    const byEmailDesc = rowsOf(await pageText(admin, "/people?sort=email&order=desc"));
    expect(byEmailDesc[0]).toBe("Zoe Zimmer");
    const byCreatedDesc = rowsOf(await pageText(admin, "/people?sort=created_at&order=desc"));
    expect(byCreatedDesc[0]).toBe("Bulk Person 29");
    const page = await pageText(admin, "/people?sort=created_at&order=desc");
    expect(page).toContain('href="/people?sort=created_at&order=asc"');
    for (const s of ["updated_at", "last_seen_at", "name"])
      expect((await admin.get(`/people?sort=${s}`)).status).toBe(200);
  });

  test("an unknown sort falls back to the default; a bad cursor is a 400 page", async () => {
    expect(rowsOf(await pageText(admin, "/people?sort=password"))[0]).toBe("Ada Admin");
    expect((await admin.get("/people?cursor=garbage")).status).toBe(400);
  });

  test("signed-out visitors are sent to sign in", async () => {
    const res = await fetch(server.url + "/people?q=x", { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?next=%2Fpeople%3Fq%3Dx");
  });
});

describe("creating a person", () => {
  test("a bad email comes back inline (422), other typed values kept; the fix saves, redirects, flashes", async () => {
    const bad = await admin.submit("/people/new", "/people", {
      firstname: "Grace",
      lastname: "Hopper",
      email: "grace@",
      phone: "+1 555 0100",
      vip: "true",
    });
    expect(bad.status).toBe(422);
    const page = decodeEntities(await bad.text());
    expect(page).toContain("<html");
    expect(page).toMatch(
      new RegExp(
        '<input id="f-email" name="email" type="email" value="grace@"[^>]*' +
          'aria-invalid="true" aria-describedby="f-email-error">',
      ),
    );
    expect(page).toContain(
      '<div id="f-email-error"><p class="field-error" role="alert">Email must be a valid email address</p></div>',
    );
    expect(page).toContain('value="Grace"');
    expect(page).toContain('value="Hopper"');
    expect(page).toContain('value="+1 555 0100"');
    expect(page).toMatch(/name="vip" value="true" checked/);

    const ok = await admin.submit("/people/new", "/people", {
      firstname: "Grace",
      lastname: "Hopper",
      email: "grace@navy.example",
      phone: "+1 555 0100",
      vip: "true",
      active: "true",
      organization: "Acme Corp",
    });
    expect(ok.status).toBe(303);
    const location = ok.headers.get("location")!;
    expect(location).toMatch(/^\/people\/\d+$/);
    const shown = await pageText(admin, location);
    expect(shown).toContain("Grace Hopper created.");
    const user = await api.get(`/users/${location.split("/").pop()}`);
    expect(user).toMatchObject({
      email: "grace@navy.example",
      vip: true,
      active: true,
      phone: "+1 555 0100",
      organization: "Acme Corp",
      login: "grace@navy.example",
    });
    const provenance = await api.get(`/users/${user.id}/provenance`);
    expect(provenance.email.source).toBe("ui");
  });

  test("with htmx the 422 answer is the form alone, which swaps itself", async () => {
    const res = await admin.request("/people", {
      method: "POST",
      headers: htmxHeaders("form#record-form", csrf),
      form: { firstname: "Linus", email: "not-an-email" },
    });
    expect(res.status).toBe(422);
    const html = decodeEntities(await res.text());
    expect(html.startsWith('<form id="record-form"')).toBe(true);
    expect(html).toContain("Email must be a valid email address");
    expect(html).toContain('value="Linus"');
    expect(html).toMatch(/id="f-email"[^>]*autofocus/);
  });

  test("an unknown organization and a taken email are shown at their fields", async () => {
    const res = await admin.submit("/people/new", "/people", {
      email: "adam.apple@example.org",
      organization: "Nope Inc",
    });
    expect([409, 422]).toContain(res.status);
    const page = decodeEntities(await res.text());
    expect(page).toMatch(/Organization no organization named "Nope Inc"|Email already taken/);
  });

  test("htmx success answers HX-Redirect, so the whole page changes", async () => {
    const res = await admin.request("/people", {
      method: "POST",
      headers: htmxHeaders("form#record-form", csrf),
      form: { email: "htmx@example.com", active: "true" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("hx-redirect")).toMatch(/^\/people\/\d+$/);
  });

  test("a form without the CSRF token is refused", async () => {
    const res = await admin.request("/people", { method: "POST", form: { email: "csrf@example.com" } });
    expect(res.status).toBe(403);
    expect(await api.get("/users?email=csrf@example.com")).toMatchObject({ data: [] });
  });
});

describe("a person's page", () => {
  test("shows fields, organization link, provenance, tickets, timeline; an edit moves provenance to ui", async () => {
    const zoe = (await api.get("/users?email=zoe.zimmer@acme.example")).data[0];
    await api.post("/tickets", { title: "Printer on fire", customer_id: zoe.id, article: { body: "Help!" } });
    let page = await pageText(admin, `/people/${zoe.id}`);
    expect(page).toContain("<h1>Zoe Zimmer");
    expect(page).toContain(`<a href="/organizations/${zoe.organization_id}">Acme Corp</a>`);
    expect(page).toContain('<span class="badge badge-source" data-field="firstname">api</span>');
    expect(page).toContain("Printer on fire");
    expect(page).toMatch(/<strong>Created<\/strong> <span class="badge badge-source">api<\/span>/);

    const res = await admin.submit(`/people/${zoe.id}`, `/people/${zoe.id}`, {
      firstname: "Zoey",
      lastname: "Zimmer",
      email: "zoe.zimmer@acme.example",
      organization: "Acme Corp",
      active: "true",
    });
    expect(res.status).toBe(303);
    page = await pageText(admin, `/people/${zoe.id}`);
    expect(page).toContain("Zoey Zimmer saved.");
    expect(page).toContain('<span class="badge badge-source" data-field="firstname">ui</span>');
    expect(page).toContain('<span class="badge badge-source" data-field="lastname">api</span>');
    expect(page).toMatch(
      /<strong>Updated<\/strong> <span class="badge badge-source">ui<\/span> <span class="muted">by Ada Admin<\/span>/,
    );
    expect(page).toMatch(/First name<\/span> <del>Zoe<\/del> → <ins>Zoey<\/ins>/);
    const user = await api.get(`/users/${zoe.id}`);
    expect(user.firstname).toBe("Zoey");
    expect(user.active).toBe(true);
  });

  test("an edit with errors keeps what was typed and changes nothing", async () => {
    const adam = (await api.get("/users?email=adam.apple@example.org")).data[0];
    const res = await admin.submit(`/people/${adam.id}`, `/people/${adam.id}`, {
      firstname: "Adamant",
      email: "zoe.zimmer@acme.example",
    });
    expect(res.status).toBe(409);
    const page = decodeEntities(await res.text());
    expect(page).toContain("Email already taken");
    expect(page).toContain('value="Adamant"');
    expect((await api.get(`/users/${adam.id}`)).firstname).toBe("Adam");
  });

  test("an unknown person is a 404 page", async () => {
    expect((await admin.get("/people/999999")).status).toBe(404);
    expect((await admin.get("/people/abc")).status).toBe(404);
  });
});

describe("deleting a person", () => {
  test("one without tickets is deleted with a flash", async () => {
    const u = await api.post("/users", { email: "temp@example.com" });
    const res = await admin.submit(`/people/${u.id}`, `/people/${u.id}/delete`, {});
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/people");
    expect(await pageText(admin, "/people")).toContain("temp@example.com deleted.");
    expect((await admin.get(`/people/${u.id}`)).status).toBe(404);
  });

  test("with tickets: 409 offering to reassign; an unknown heir: inline error; a known one takes them", async () => {
    const owner = await api.post("/users", { email: "leaving@example.com", firstname: "Leaving" });
    const heir = await api.post("/users", { email: "heir@example.com", firstname: "Heir" });
    const t = (await api.post("/tickets", { title: "Left behind", customer_id: owner.id })).id;

    const conflict = await admin.submit(`/people/${owner.id}`, `/people/${owner.id}/delete`, {});
    expect(conflict.status).toBe(409);
    let page = decodeEntities(await conflict.text());
    expect(page).toContain("Leaving is customer or owner of tickets.");
    expect(page).toContain('<label for="reassign_to">');
    expect(page).toContain("Reassign and delete");

    const unknown = await admin.request(`/people/${owner.id}/delete`, {
      method: "POST",
      headers: htmxHeaders("section#delete-zone", csrf),
      form: { reassign_to: "ghost@example.com" },
    });
    expect(unknown.status).toBe(422);
    page = decodeEntities(await unknown.text());
    expect(page).not.toContain("<html");
    expect(page).toContain('no user with the id or email "ghost@example.com"');
    expect(page).toContain('value="ghost@example.com"');

    const done = await admin.submit(`/people/${owner.id}`, `/people/${owner.id}/delete`, {
      reassign_to: "heir@example.com",
    });
    expect(done.status).toBe(303);
    expect((await api.get(`/tickets/${t}`)).customer_id).toBe(heir.id);
    expect((await admin.get(`/people/${owner.id}`)).status).toBe(404);
  });
});
