import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiClient, decodeEntities, pageText } from "../support/admin-seed";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { type Browser, createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

/**
 * Issue 14 items 11 and 12 on the server: tickets created and edited from the UI (through the domain, so the
 * trigger fires as for the API), the picker search endpoint, forms that submit picked ids, names in timelines.
 */
let server: TestServer;
let admin: Browser;
let api: ReturnType<typeof apiClient>;
let receiver: Receiver;
let alice: { id: number };
let bob: { id: number };
let me: { id: number };
let support: { id: number };
let webhook: { id: number };

beforeAll(async () => {
  receiver = startReceiver(() => ({ status: 200 }));
  server = await startTestServer();
  admin = await setupAdmin(server);
  api = apiClient(server.url, await createToken(admin));
  await api.post("/organizations", { name: "Umbrella Corp" });
  alice = await api.post("/users", { email: "alice@umbrella.example", firstname: "Alice", lastname: "Wonder" });
  bob = await api.post("/users", { email: "bob@example.org", firstname: "Bob", lastname: "Builder" });
  me = (await api.get("/users?email=admin@example.com")).data[0];
  support = await api.post("/groups", { name: "Second level" });
  webhook = await api.post("/webhooks", { name: "Helpdesk mirror", url: `${receiver.url}/hook` });
  await api.post("/triggers", { name: "new tickets", events: ["ticket.created"], webhook_ids: [webhook.id] });
});
afterAll(async () => {
  await server.close();
  await receiver.stop();
});

describe("tickets from the UI (item 12)", () => {
  test("the list offers New ticket; its form has title, customer picker, group, state, priority, first article", async () => {
    expect(await pageText(admin, "/tickets")).toContain(
      '<a class="btn btn-primary" href="/tickets/new">New ticket</a>',
    );
    const form = await pageText(admin, "/tickets/new");
    expect(form).toContain('<form id="record-form" class="record-form" method="post" action="/tickets"');
    expect(form).toContain('<input type="hidden" name="customer_id" value="" data-picker-value>');
    expect(form).toMatch(
      /<input id="f-customer_id" name="customer_id__q"[^>]*role="combobox"[^>]*hx-get="\/pick\/people/,
    );
    expect(form).toContain(`<option value="${support.id}">Second level</option>`);
    expect(form).toMatch(/<select id="f-state" name="state" required[^>]*><option value="new" selected>/);
    expect(form).toContain('<option value="2 normal" selected>');
    expect(form).toContain('<textarea id="f-body" name="body"');
  });

  test("a created ticket goes through the domain: article stored, trigger fired, answer is a redirect", async () => {
    const res = await admin.submit("/tickets/new", "/tickets", {
      title: "Printer on fire",
      customer_id: String(alice.id),
      customer_id__q: "Alice Wonder",
      group_id: String(support.id),
      state: "open",
      priority: "3 high",
      article_type: "phone",
      subject: "",
      body: "She called: smoke everywhere.",
      internal: "true",
    });
    expect(res.status).toBe(303);
    const id = Number(/^\/tickets\/(\d+)$/.exec(res.headers.get("location") ?? "")?.[1]);
    const ticket = await api.get(`/tickets/${id}`);
    expect(ticket).toMatchObject({
      title: "Printer on fire",
      customer_id: alice.id,
      group_id: support.id,
      state: "open",
      priority: "3 high",
      article_count: 1,
    });
    const [article] = (await api.get(`/tickets/${id}/articles`)).data;
    expect(article).toMatchObject({ type: "phone", body: "She called: smoke everywhere.", internal: true });
    const page = await pageText(admin, `/tickets/${id}`);
    expect(page).toContain(`Ticket #${ticket.number} created.`);
    await eventually(() => receiver.requests.some((r) => JSON.parse(r.body).ticket?.id === id));
  });

  test("a ticket without a customer comes back with the error and everything typed", async () => {
    const res = await admin.submit("/tickets/new", "/tickets", {
      title: "Nobody's ticket",
      customer_id: "",
      customer_id__q: "Zed",
      state: "pending",
      priority: "1 low",
      article_type: "note",
      body: "Keep me",
    });
    expect(res.status).toBe(422);
    const page = decodeEntities(await res.text());
    expect(page).toMatch(
      /<div id="f-customer_id-error"><p class="field-error" role="alert">Customer is required: search by name and pick one/,
    );
    expect(page).toContain('value="Nobody\'s ticket"');
    expect(page).toMatch(/name="customer_id__q" type="text" value="Zed"/);
    expect(page).toContain('<option value="pending" selected>');
    expect(page).toContain(">Keep me</textarea>");
  });

  test("title, customer and owner are edited on the ticket page; the timeline names people and groups", async () => {
    const t = await api.post("/tickets", { title: "Old title", customer_id: alice.id });
    const before = await pageText(admin, `/tickets/${t.id}`);
    // The pickers show the names of the current customer and owner, and submit ids.
    expect(before).toContain(`<input type="hidden" name="customer_id" value="${alice.id}" data-picker-value>`);
    expect(before).toMatch(/name="customer_id__q" type="text" value="Alice Wonder"/);
    expect(before).toMatch(/name="owner_id__q"[^>]*hx-get="\/pick\/staff/);
    const res = await admin.submit(`/tickets/${t.id}`, `/tickets/${t.id}`, {
      title: "New title",
      customer_id: String(bob.id),
      owner_id: String(me.id),
      state: "open",
      priority: "2 normal",
      group_id: String(support.id),
    });
    expect(res.status).toBe(303);
    expect(await api.get(`/tickets/${t.id}`)).toMatchObject({
      title: "New title",
      customer_id: bob.id,
      owner_id: me.id,
      group_id: support.id,
    });
    const page = await pageText(admin, `/tickets/${t.id}`);
    const timeline = page.slice(page.indexOf('<ol class="timeline">'));
    expect(timeline).toContain(
      '<span class="change-field">Customer</span> <del>Alice Wonder</del> → <ins>Bob Builder</ins>',
    );
    expect(timeline).toContain('<span class="change-field">Owner</span> <del>(empty)</del> → <ins>Ada Admin</ins>');
    expect(timeline).toContain('<span class="change-field">Group</span> <del>(empty)</del> → <ins>Second level</ins>');
    expect(timeline).not.toMatch(/Customer id|Owner id/);
  });
});

describe("pickers (item 11)", () => {
  const options = (html: string) =>
    [...decodeEntities(html).matchAll(/data-value="([^"]*)" data-label="([^"]*)"/g)].map((m) => [m[1], m[2]]);

  test("people, staff, organizations, groups and destinations are searched by name", async () => {
    const people = await admin.get("/pick/people?customer_id__q=wond&field=f-customer_id");
    expect(people.status).toBe(200);
    const html = await people.text();
    expect(options(html)).toEqual([[String(alice.id), "Alice Wonder"]]);
    expect(html).toContain('id="f-customer_id-option-0" role="option"');
    // By email too, and through `q`.
    expect(options(await (await admin.get("/pick/people?q=bob@")).text())).toEqual([[String(bob.id), "Bob Builder"]]);
    // Owners are staff: customers are not offered.
    expect(options(await (await admin.get("/pick/staff?q=")).text())).toEqual([[String(me.id), "Ada Admin"]]);
    expect(options(await (await admin.get("/pick/organizations?q=umbr")).text())[0]?.[1]).toBe("Umbrella Corp");
    expect(options(await (await admin.get("/pick/groups?q=second")).text())).toEqual([
      [String(support.id), "Second level"],
    ]);
    expect(options(await (await admin.get("/pick/destinations?q=mirror")).text())).toEqual([
      [`webhook:${webhook.id}`, "Webhook Helpdesk mirror"],
    ]);
    expect(await (await admin.get("/pick/people?q=nobody-at-all")).text()).toContain("No matches for “nobody-at-all”.");
  });

  test("JSON on request; unknown sources are 404; only for signed-in admins", async () => {
    const res = await admin.request("/pick/people?q=alice", { headers: { accept: "application/json" } });
    expect(await res.json()).toEqual({
      data: [{ value: String(alice.id), label: "Alice Wonder", detail: "alice@umbrella.example" }],
    });
    expect((await admin.get("/pick/secrets?q=x")).status).toBe(404);
    expect((await fetch(`${server.url}/pick/people?q=a`, { redirect: "manual" })).status).toBe(303);
  });

  test("group members are picked (chips with names) and saved as ids", async () => {
    const res = await admin.submit("/groups", "/groups", {
      name: "Escalations",
      user_ids: `${alice.id},${bob.id}`,
      user_ids__labels: JSON.stringify(["Alice Wonder", "Bob Builder"]),
      active: "true",
    });
    expect(res.status).toBe(303);
    const group = (await api.get("/groups")).data.find((g: { name: string }) => g.name === "Escalations");
    expect(group.user_ids).toEqual([alice.id, bob.id]);
    const page = await pageText(admin, `/groups/${group.id}`);
    expect(page).toContain(`<input type="hidden" name="user_ids" value="${alice.id},${bob.id}" data-picker-value>`);
    expect(page).toContain(`<li class="chip" data-value="${bob.id}"><span class="chip-label">Bob Builder</span>`);
    expect(page).not.toContain("User ids, separated by commas");
  });

  test("the HTTP log filters by a picked destination and names it", async () => {
    await eventually(() => receiver.requests.length > 0);
    const page = await pageText(
      admin,
      `/logs?destination=webhook:${webhook.id}&destination__q=Webhook+Helpdesk+mirror&failed_only=`,
    );
    expect(page).toContain(`<input type="hidden" name="destination" value="webhook:${webhook.id}" data-picker-value>`);
    expect(page).toMatch(/name="destination__q" type="text" value="Webhook Helpdesk mirror"/);
    expect(page).toContain(`<span class="muted" title="webhook:${webhook.id}">Webhook Helpdesk mirror</span>`);
  });

  test("a person's tickets are handed to a picked person, or to one typed by email without a pick", async () => {
    const leaving = await api.post("/users", { email: "leaving@example.org", firstname: "Lea", lastname: "Ving" });
    await api.post("/tickets", { title: "Hers", customer_id: leaving.id });
    const blocked = await admin.submit(`/people/${leaving.id}`, `/people/${leaving.id}/delete`, {});
    expect(blocked.status).toBe(409);
    const zone = decodeEntities(await blocked.text());
    expect(zone).toMatch(/<input id="reassign_to" name="reassign_to__q"[^>]*hx-get="\/pick\/people/);
    expect(zone).not.toContain("user id or email");
    const picked = await admin.submit(`/people/${leaving.id}`, `/people/${leaving.id}/delete`, {
      reassign_to: String(bob.id),
      reassign_to__q: "Bob Builder",
    });
    expect(picked.status).toBe(303);
    const second = await api.post("/users", { email: "second@example.org", firstname: "Sec" });
    await api.post("/tickets", { title: "His", customer_id: second.id });
    const typed = await admin.submit(`/people/${second.id}`, `/people/${second.id}/delete`, {
      reassign_to: "",
      reassign_to__q: "alice@umbrella.example",
    });
    expect(typed.status).toBe(303);
    const tickets = (await api.get(`/tickets?customer_id=${alice.id}`)).data.map((t: { title: string }) => t.title);
    expect(tickets).toContain("His");
  });
});
