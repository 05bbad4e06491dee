import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";
import { rowsOf } from "../support/store";

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.server.close());

const rowCount = async (table: string) =>
  (await rowsOf<{ n: number }>(api.server.ctx.db, `SELECT count(*) AS n FROM ${table}`))[0]!.n;

describe("users", () => {
  test("create, read, update with events, provenance and no-op updates", async () => {
    const created = await api.call("POST", "/api/v1/users", {
      email: "Grace@Example.com",
      firstname: "Grace",
      lastname: "Hopper",
      vip: true,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      email: "grace@example.com",
      login: "grace@example.com",
      roles: ["Customer"],
      vip: true,
    });
    const id = created.body.id;
    const updated = await api.call("PATCH", `/api/v1/users/${id}`, { phone: "+1 555", firstname: "Grace" });
    expect(updated.body.phone).toBe("+1 555");
    const again = await api.call("PATCH", `/api/v1/users/${id}`, { phone: "+1 555" });
    expect(again.status).toBe(200);
    const events = (await api.call("GET", `/api/v1/users/${id}/events`)).body.data;
    expect(events.map((e: any) => e.type)).toEqual(["user.updated", "user.created"]);
    expect(events[0].changes).toEqual({ phone: [null, "+1 555"] });
    expect(events[0].source).toBe("api");
    const provenance = (await api.call("GET", `/api/v1/users/${id}/provenance`)).body;
    expect(provenance.phone.source).toBe("api");
    expect(provenance.firstname.source).toBe("api");
  });

  test("email is unique regardless of case; bad input names the field and writes nothing", async () => {
    const before = await rowCount("users");
    expect((await api.call("POST", "/api/v1/users", { email: "GRACE@example.com" })).status).toBe(409);
    const bad = await api.call("POST", "/api/v1/users", {
      email: "not-an-email",
      firstname: 5,
      nope: true,
      lastname: "x".repeat(500),
    });
    expect(bad.status).toBe(422);
    const fields = bad.body.error.details.map((d: any) => d.field).sort();
    expect(fields).toEqual(["email", "firstname", "lastname", "nope"]);
    expect((await api.call("POST", "/api/v1/users", "{not json")).status).toBe(400);
    const latin1 = await fetch(api.server.url + "/api/v1/users", {
      method: "POST",
      headers: { authorization: `Bearer ${api.token}`, "content-type": "application/json" },
      body: new Uint8Array([
        0x7b, 0x22, 0x66, 0x69, 0x72, 0x73, 0x74, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d,
      ]),
    });
    expect(latin1.status).toBe(400);
    expect((await latin1.json()).error.message).toContain("UTF-8");
    expect((await api.call("PATCH", "/api/v1/users/999999", { firstname: "x" })).status).toBe(404);
    expect((await api.call("PATCH", "/api/v1/users/abc", { firstname: "x" })).status).toBe(404);
    expect(
      (
        await api.call("POST", "/api/v1/users", {
          email: "deep@example.com",
          traits: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } },
        })
      ).status,
    ).toBe(422);
    expect(await rowCount("users")).toBe(before);
  });

  test("upsert by email creates then updates", async () => {
    const first = await api.call("PUT", "/api/v1/users/by-email/ada%40example.com", { firstname: "Ada" });
    expect(first.status).toBe(201);
    const second = await api.call("PUT", "/api/v1/users/by-email/ADA%40example.com", { lastname: "Lovelace" });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ id: first.body.id, firstname: "Ada", lastname: "Lovelace" });
  });

  test("list: search by name, email and organization; cursor pagination; filters", async () => {
    const org = await api.call("POST", "/api/v1/organizations", { name: "Initech Corp", domain: "initech.example" });
    for (let i = 0; i < 7; i++)
      await api.call("POST", "/api/v1/users", {
        email: `peter${i}@initech.example`,
        firstname: "Peter",
        lastname: `Gibbons${i}`,
        organization_id: org.body.id,
      });
    const byName = await api.call("GET", "/api/v1/users?q=gibb");
    expect(byName.body.data.length).toBe(7);
    const byOrg = await api.call("GET", "/api/v1/users?q=initech&limit=3&sort=name");
    expect(byOrg.body.data.map((u: any) => u.lastname)).toEqual(["Gibbons0", "Gibbons1", "Gibbons2"]);
    const next = await api.call("GET", `/api/v1/users?q=initech&limit=3&sort=name&cursor=${byOrg.body.next_cursor}`);
    expect(next.body.data.map((u: any) => u.lastname)).toEqual(["Gibbons3", "Gibbons4", "Gibbons5"]);
    const filtered = await api.call("GET", `/api/v1/users?organization_id=${org.body.id}&order=desc&limit=2`);
    expect(filtered.body.data.map((u: any) => u.email)).toEqual(["peter6@initech.example", "peter5@initech.example"]);
    expect((await api.call("GET", "/api/v1/users?cursor=garbage")).status).toBe(400);
    expect((await api.call("GET", "/api/v1/users?sort=password")).status).toBe(422);
  });
});

describe("custom fields", () => {
  test("defined fields are validated on write and appear flat on the object", async () => {
    expect(
      (
        await api.call("POST", "/api/v1/custom_fields", {
          object_type: "user",
          name: "plan",
          label: "Plan",
          type: "select",
          options: ["free", "pro"],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await api.call("POST", "/api/v1/custom_fields", {
          object_type: "user",
          name: "email",
          label: "E",
          type: "text",
        })
      ).status,
    ).toBe(422);
    const ok = await api.call("POST", "/api/v1/users", { email: "cf@example.com", plan: "pro" });
    expect(ok.body.plan).toBe("pro");
    const bad = await api.call("POST", "/api/v1/users", { email: "cf2@example.com", plan: "gold" });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe("plan");
  });
});

describe("tickets", () => {
  test("a ticket with an article and attachment; deleting its customer needs a reassignment", async () => {
    const customer = (await api.call("POST", "/api/v1/users", { email: "cust@example.com" })).body;
    const heir = (await api.call("POST", "/api/v1/users", { email: "heir@example.com" })).body;
    const created = await api.call("POST", "/api/v1/tickets", {
      title: "Printer on fire",
      customer_id: customer.id,
      article: {
        body: "It is on fire",
        sender: "Customer",
        type: "email",
        attachments: [
          { filename: "fire.txt", content_type: "text/plain", data: Buffer.from("flames").toString("base64") },
        ],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      number: expect.stringMatching(/^1\d{4}$/),
      state: "new",
      priority: "2 normal",
      article_count: 1,
      create_article_sender: "Customer",
    });
    const url = created.body.article.attachments[0].url;
    const file = await fetch(api.server.url + url, { headers: { authorization: `Bearer ${api.token}` } });
    expect(await file.text()).toBe("flames");
    expect((await fetch(api.server.url + url)).status).toBe(401);
    const refused = await api.call("DELETE", `/api/v1/users/${customer.id}`);
    expect(refused.status).toBe(409);
    expect((await api.call("DELETE", `/api/v1/users/${customer.id}?reassign_to=${heir.id}`)).status).toBe(204);
    expect((await api.call("GET", `/api/v1/tickets/${created.body.id}`)).body.customer_id).toBe(heir.id);
    const closed = await api.call("PATCH", `/api/v1/tickets/${created.body.id}`, { state: "closed" });
    expect(closed.body.close_at).not.toBeNull();
  });
});

describe("event feed", () => {
  test("cursor reads and a long poll that wakes on the next change", async () => {
    const head = (await api.call("GET", "/api/v1/events?after=0&limit=1000")).body.next_cursor;
    const waiting = api.call("GET", `/api/v1/events?after=${head}&wait=10`);
    await Bun.sleep(50);
    const started = Date.now();
    await api.call("POST", "/api/v1/groups", { name: "Support" });
    const woke = await waiting;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(woke.body.data[0]).toMatchObject({ type: "group.created", object_type: "group", source: "api" });
  });

  test("a filtered long poll woken by another object's change waits on for its own", async () => {
    const head = (await api.call("GET", "/api/v1/events?after=0&limit=1000")).body.next_cursor;
    let answered = false;
    const waiting = api.call("GET", `/api/v1/events?cursor=${head}&object_type=organization&wait=10`).then((r) => {
      answered = true;
      return r;
    });
    await Bun.sleep(50);
    await api.call("POST", "/api/v1/groups", { name: "Billing" });
    await Bun.sleep(500);
    expect(answered).toBe(false);
    await api.call("POST", "/api/v1/organizations", { name: "Waited For Ltd" });
    const woke = await waiting;
    expect(woke.body.data).toHaveLength(1);
    expect(woke.body.data[0]).toMatchObject({ type: "organization.created", object_type: "organization" });
  });
});
