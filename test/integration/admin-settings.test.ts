import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeKeyStore } from "../../src/domain/credentials";
import { apiClient, decodeEntities, pageText } from "../support/admin-seed";
import { type Browser, createToken, setupAdmin, startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let admin: Browser;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  server = await startTestServer();
  admin = await setupAdmin(server);
  api = apiClient(server.url, await createToken(admin));
});
afterAll(() => server.close());

describe("settings", () => {
  test("Settings links to write keys, groups and custom fields", async () => {
    const page = await pageText(admin, "/settings");
    for (const href of ["/write-keys", "/groups", "/custom-fields"]) expect(page).toContain(`href="${href}"`);
  });
});

describe("groups", () => {
  test("create with member ids; an unknown id or a taken name is an inline error", async () => {
    const a = await api.post("/users", { email: "agent.a@example.com", firstname: "Agnes" });
    const bad = await admin.submit("/groups", "/groups", {
      name: "Support",
      user_ids: `${a.id}, 9999`,
      active: "true",
    });
    expect(bad.status).toBe(422);
    expect(decodeEntities(await bad.text())).toContain("Members contains an unknown user id");
    const letters = await admin.submit("/groups", "/groups", { name: "Support", user_ids: "abc" });
    expect(letters.status).toBe(422);
    expect(decodeEntities(await letters.text())).toContain("Members must be ids");
    const ok = await admin.submit("/groups", "/groups", { name: "Support", user_ids: String(a.id), active: "true" });
    expect(ok.status).toBe(303);
    const list = await pageText(admin, "/groups");
    expect(list).toContain("Group Support created.");
    const group = (await api.get("/groups")).data[0];
    expect(group).toMatchObject({ name: "Support", user_ids: [a.id], active: true });
    const taken = await admin.submit("/groups", "/groups", { name: "Support" });
    expect(taken.status).toBe(409);
    expect(decodeEntities(await taken.text())).toContain("Name already taken");
  });

  test("edit members by id; delete is refused (409) while tickets belong to the group", async () => {
    const group = (await api.get("/groups")).data[0];
    const b = await api.post("/users", { email: "agent.b@example.com", firstname: "Bert" });
    const ok = await admin.submit(`/groups/${group.id}`, `/groups/${group.id}`, {
      name: "Support",
      user_ids: `${group.user_ids[0]} ${b.id}`,
      note: "Tier 1",
      active: "true",
    });
    expect(ok.status).toBe(303);
    const page = await pageText(admin, `/groups/${group.id}`);
    expect(page).toContain(`<a href="/people/${b.id}">Bert</a>`);
    expect((await api.get(`/groups/${group.id}`)).user_ids).toEqual([group.user_ids[0], b.id]);

    const t = await api.post("/tickets", { title: "Routed", customer_id: b.id, group_id: group.id });
    const refused = await admin.submit(`/groups/${group.id}`, `/groups/${group.id}/delete`, {});
    expect(refused.status).toBe(409);
    expect(decodeEntities(await refused.text())).toContain(
      "Tickets belong to this group. Move them to another group first",
    );
    await api.patch(`/tickets/${t.id}`, { group_id: null });
    const done = await admin.submit(`/groups/${group.id}`, `/groups/${group.id}/delete`, {});
    expect(done.status).toBe(303);
    expect((await api.get("/groups")).data).toEqual([]);
  });
});

describe("custom fields", () => {
  test("fields of each type appear, with the right inputs, on the person and organization forms", async () => {
    const noOptions = await admin.submit("/custom-fields", "/custom-fields", {
      object_type: "user",
      label: "Tier",
      name: "tier",
      type: "select",
      options: "",
    });
    expect(noOptions.status).toBe(422);
    expect(decodeEntities(await noOptions.text())).toContain("Options a select field needs at least one option");
    const badName = await admin.submit("/custom-fields", "/custom-fields", {
      object_type: "user",
      label: "Email",
      name: "email",
      type: "text",
    });
    expect(badName.status).toBe(422);
    expect(decodeEntities(await badName.text())).toContain("Name is a built-in field name");

    for (const f of <Record<string, string>[]>[
      { object_type: "user", label: "Tier", name: "tier", type: "select", options: "gold\nsilver\n", required: "true" },
      { object_type: "user", label: "Seats", name: "seats", type: "number" },
      { object_type: "user", label: "Churned", name: "churned", type: "boolean" },
      { object_type: "user", label: "Customer since", name: "customer_since", type: "date" },
      { object_type: "organization", label: "Region", name: "region", type: "text" },
    ])
      expect((await admin.submit("/custom-fields", "/custom-fields", f)).status).toBe(303);

    const list = await pageText(admin, "/custom-fields");
    expect(list).toContain("<code>customer_since</code>");
    expect(list).toContain("gold, silver");

    const form = await pageText(admin, "/people/new");
    expect(form).toContain("<legend>Custom fields</legend>");
    expect(form).toMatch(
      new RegExp(
        '<select id="f-tier" name="tier" required[^>]*>' +
          '<option value="gold">gold</option><option value="silver">silver</option></select>',
      ),
    );
    expect(form).toMatch(/<input id="f-seats" name="seats" type="number" value="" step="any"/);
    expect(form).toMatch(/<input type="checkbox" id="f-churned" name="churned" value="true"/);
    expect(form).toMatch(/<input id="f-customer_since" name="customer_since" type="date"/);
    expect(await pageText(admin, "/organizations/new")).toMatch(/<input id="f-region" name="region" type="text"/);
  });

  test("custom values are validated, saved from the person form and shown with provenance", async () => {
    const bad = await admin.submit("/people/new", "/people", {
      email: "cf@example.com",
      tier: "gold",
      seats: "many",
      active: "true",
    });
    expect(bad.status).toBe(422);
    expect(decodeEntities(await bad.text())).toContain("Seats must be a number");
    const ok = await admin.submit("/people/new", "/people", {
      email: "cf@example.com",
      tier: "silver",
      seats: "12",
      churned: "true",
      customer_since: "2023-04-05",
      active: "true",
    });
    expect(ok.status).toBe(303);
    const id = ok.headers.get("location")!.split("/").pop();
    expect(await api.get(`/users/${id}`)).toMatchObject({
      tier: "silver",
      seats: 12,
      churned: true,
      customer_since: "2023-04-05",
    });
    const page = await pageText(admin, `/people/${id}`);
    expect(page).toContain('<h3 class="subhead">Custom fields</h3>');
    expect(page).toContain('data-field="tier">ui</span>');
    // Clearing a number and unticking a box save null and false.
    const cleared = await admin.submit(`/people/${id}`, `/people/${id}`, {
      email: "cf@example.com",
      tier: "silver",
      seats: "",
      customer_since: "",
      active: "true",
    });
    expect(cleared.status).toBe(303);
    expect(await api.get(`/users/${id}`)).toMatchObject({ seats: null, churned: false, customer_since: null });
  });

  test("label and options are edited; a deleted field leaves the forms", async () => {
    const fields = (await api.get("/custom_fields?object_type=user")).data;
    const tier = fields.find((f: { name: string }) => f.name === "tier");
    const editPage = await pageText(admin, `/custom-fields/${tier.id}`);
    expect(editPage).toContain("gold\nsilver</textarea>");
    const ok = await admin.submit(`/custom-fields/${tier.id}`, `/custom-fields/${tier.id}`, {
      label: "Plan",
      options: "gold\nsilver\nbronze",
    });
    expect(ok.status).toBe(303);
    expect(await api.get(`/custom_fields/${tier.id}`)).toMatchObject({
      label: "Plan",
      options: ["gold", "silver", "bronze"],
      required: false,
    });
    const seats = fields.find((f: { name: string }) => f.name === "seats");
    expect(await pageText(admin, `/custom-fields/${seats.id}`)).not.toContain('name="options"');
    const gone = await admin.submit(`/custom-fields/${seats.id}`, `/custom-fields/${seats.id}/delete`, {});
    expect(gone.status).toBe(303);
    expect(await pageText(admin, "/people/new")).not.toContain('name="seats"');
  });
});

describe("write keys", () => {
  test("created keys are shown once, listed by prefix with last use, and revoked", async () => {
    const empty = await admin.submit("/write-keys", "/write-keys", { name: "" });
    expect(empty.status).toBe(422);
    expect(decodeEntities(await empty.text())).toContain("Name is required");

    const res = await admin.submit("/write-keys", "/write-keys", { name: "website" });
    expect(res.status).toBe(303);
    const page = decodeEntities(await (await admin.follow(res)).text());
    const key = /id="new-write-key">([^<]+)</.exec(page)![1]!;
    expect(key.startsWith("wk_")).toBe(true);
    expect((await writeKeyStore.authenticate(server.ctx.db, key))?.name).toBe("website");

    const later = await pageText(admin, "/write-keys");
    expect(later).not.toContain(key);
    expect(later).toContain(`<code>${key.slice(0, 9)}…</code>`);
    // Used once above: the last use is a time, not "never".
    expect(later).toMatch(
      /<td>website<\/td><td><code>[^<]+<\/code><\/td><td>[^<]+<\/td><td>\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/td>/,
    );

    const id = (await writeKeyStore.list(server.ctx.db))[0]!.id;
    const revoked = await admin.submit("/write-keys", `/write-keys/${id}/revoke`, {});
    expect(revoked.status).toBe(303);
    expect(await pageText(admin, "/write-keys")).toContain("Write key revoked.");
    expect(await writeKeyStore.authenticate(server.ctx.db, key)).toBeNull();
  });
});
