import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiClient, decodeEntities, htmxHeaders, pageText } from "../support/admin-seed";
import { type Browser, createToken, csrfOf, setupAdmin, startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let admin: Browser;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  server = await startTestServer();
  admin = await setupAdmin(server);
  api = apiClient(server.url, await createToken(admin));
  for (let i = 0; i < 27; i++) await api.post("/organizations", { name: `Org ${String(i).padStart(2, "0")}` });
  await api.post("/organizations", { name: "Globex", domain: "globex.example" });
});
afterAll(() => server.close());

const namesOf = (html: string) => [...html.matchAll(/<a href="\/organizations\/(\d+)">([^<]+)<\/a>/g)].map((m) => m[2]);

describe("organizations", () => {
  test("the list searches, sorts by name and pages with Load more", async () => {
    const page = await pageText(admin, "/organizations");
    expect(namesOf(page)).toHaveLength(25);
    expect(namesOf(page)[0]).toBe("Globex");
    const more = /<tr id="list-more"[\s\S]*?href="([^"]+)"/.exec(page)![1]!;
    const rows = decodeEntities(await (await admin.request(more, { headers: htmxHeaders("tr#list-more") })).text());
    expect(namesOf(rows)).toEqual(["Org 24", "Org 25", "Org 26"]);
    expect(namesOf(await pageText(admin, "/organizations?q=globex"))).toEqual(["Globex"]);
    expect(namesOf(await pageText(admin, "/organizations?sort=name&order=desc"))[0]).toBe("Org 26");
  });

  test("create validates inline, then saves with provenance ui and shows members and tickets", async () => {
    const bad = await admin.submit("/organizations/new", "/organizations", {
      name: "",
      domain: "not a domain",
      note: "kept",
    });
    expect(bad.status).toBe(422);
    const badPage = decodeEntities(await bad.text());
    expect(badPage).toContain("Domain must be a domain name such as example.com");
    expect(badPage).toContain("kept</textarea>");

    const taken = await admin.submit("/organizations/new", "/organizations", { name: "globex" });
    expect(taken.status).toBe(409);
    expect(decodeEntities(await taken.text())).toContain("Name already taken");

    const ok = await admin.submit("/organizations/new", "/organizations", {
      name: "Initech",
      domain: "initech.example",
      shared: "true",
      active: "true",
    });
    expect(ok.status).toBe(303);
    const id = Number(ok.headers.get("location")!.split("/").pop());
    const member = await api.post("/users", {
      email: "peter@initech.example",
      firstname: "Peter",
      organization_id: id,
    });
    await api.post("/tickets", { title: "TPS reports", customer_id: member.id });
    const page = await pageText(admin, `/organizations/${id}`);
    expect(page).toContain("Initech created.");
    expect(page).toContain(`<a href="/people/${member.id}">Peter</a>`);
    expect(page).toContain("TPS reports");
    expect(page).toContain('data-field="domain">ui</span>');
  });

  test("edit saves; with htmx a failed edit answers the form alone", async () => {
    const org = (await api.get("/organizations?q=globex")).data[0];
    const csrf = csrfOf(await (await admin.get(`/organizations/${org.id}`)).text());
    const failed = await admin.request(`/organizations/${org.id}`, {
      method: "POST",
      headers: htmxHeaders("form#record-form", csrf),
      form: { name: "", domain: "globex.example" },
    });
    expect(failed.status).toBe(422);
    expect(decodeEntities(await failed.text())).toMatch(/^<form id="record-form"[\s\S]*Name is required/);
    const ok = await admin.submit(`/organizations/${org.id}`, `/organizations/${org.id}`, {
      name: "Globex Corporation",
      domain: "globex.example",
      note: "Hank's",
      active: "true",
    });
    expect(ok.status).toBe(303);
    expect(await api.get(`/organizations/${org.id}`)).toMatchObject({
      name: "Globex Corporation",
      note: "Hank's",
      shared: false,
    });
    expect(await pageText(admin, `/organizations/${org.id}`)).toMatch(
      /Name<\/span> <del>Globex<\/del> → <ins>Globex Corporation<\/ins>/,
    );
  });

  test("delete with tickets is a 409 offering to move them; by name they move and the organization goes", async () => {
    const doomed = await api.post("/organizations", { name: "Doomed" });
    const customer = await api.post("/users", { email: "d@doomed.example", organization_id: doomed.id });
    const ticket = await api.post("/tickets", { title: "Orphan", customer_id: customer.id });
    const conflict = await admin.submit(`/organizations/${doomed.id}`, `/organizations/${doomed.id}/delete`, {});
    expect(conflict.status).toBe(409);
    const page = decodeEntities(await conflict.text());
    expect(page).toContain("Doomed has tickets.");
    expect(page).toContain("Move its tickets to");
    const done = await admin.submit(`/organizations/${doomed.id}`, `/organizations/${doomed.id}/delete`, {
      reassign_to: "initech",
    });
    expect(done.status).toBe(303);
    expect((await api.get(`/tickets/${ticket.id}`)).organization_id).not.toBe(doomed.id);
    expect((await admin.get(`/organizations/${doomed.id}`)).status).toBe(404);
    expect((await api.get(`/users/${customer.id}`)).organization_id).toBeNull();
  });
});
