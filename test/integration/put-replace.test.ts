import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";

/**
 * PUT replaces a person or an organization: fields left out are cleared to their
 * defaults; PATCH changes only what it names.
 */
let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.server.close());

describe("PUT /api/v1/users/{id}", () => {
  test("fields left out are cleared to a new person's defaults; login and roles are kept unless given", async () => {
    await api.call("POST", "/api/v1/custom_fields", { object_type: "user", name: "plan", label: "Plan", type: "text" });
    const org = (await api.call("POST", "/api/v1/organizations", { name: "Put Corp" })).body;
    const group = (await api.call("POST", "/api/v1/groups", { name: "Put Group" })).body;
    const full = {
      login: "jane",
      email: "jane@example.com",
      firstname: "Jane",
      lastname: "Doe",
      phone: "555",
      mobile: "556",
      address: "Here",
      web: "https://jane.example",
      note: "n",
      image: "https://img",
      organization_id: org.id,
      vip: true,
      verified: true,
      out_of_office: true,
      timezone: "Europe/Berlin",
      active: false,
      role_ids: [2, 3],
      group_ids: [group.id],
      traits: { plan: "pro" },
      plan: "gold",
    };
    const created = (await api.call("POST", "/api/v1/users", full)).body;
    const put = await api.call("PUT", `/api/v1/users/${created.id}`, { email: "jane@example.com", firstname: "Janet" });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      login: "jane",
      email: "jane@example.com",
      firstname: "Janet",
      lastname: null,
      phone: null,
      mobile: null,
      address: null,
      web: null,
      note: null,
      image: null,
      organization_id: null,
      vip: false,
      verified: false,
      out_of_office: false,
      timezone: null,
      active: true,
      role_ids: [2, 3],
      group_ids: [],
      traits: {},
      plan: null,
    });
    const again = await api.call("PUT", `/api/v1/users/${created.id}`, {
      login: "janet",
      roles: ["Customer"],
      organization: "Put Corp",
    });
    expect(again.body).toMatchObject({
      login: "janet",
      email: null,
      firstname: null,
      roles: ["Customer"],
      organization_id: org.id,
    });
    // PATCH still changes only what it names.
    const patched = await api.call("PATCH", `/api/v1/users/${created.id}`, { phone: "777" });
    expect(patched.body).toMatchObject({ login: "janet", phone: "777", organization_id: org.id, roles: ["Customer"] });
  });

  test("required custom fields stay required, and bad fields are named", async () => {
    await api.call("POST", "/api/v1/custom_fields", {
      object_type: "user",
      name: "tier",
      label: "Tier",
      type: "text",
      required: true,
    });
    const u = (await api.call("POST", "/api/v1/users", { email: "req@example.com", tier: "a" })).body;
    const res = await api.call("PUT", `/api/v1/users/${u.id}`, { email: "req@example.com" });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: "tier", message: "is required" }]);
    expect(
      (await api.call("PUT", `/api/v1/users/${u.id}`, { email: "nope", tier: "a" })).body.error.details[0].field,
    ).toBe("email");
    expect((await api.call("GET", `/api/v1/users/${u.id}`)).body).toMatchObject({
      email: "req@example.com",
      tier: "a",
    });
    expect((await api.call("PUT", "/api/v1/users/999999", { tier: "a" })).status).toBe(404);
    const fields = (await api.call("GET", "/api/v1/custom_fields?object_type=user")).body.data;
    await api.call("DELETE", `/api/v1/custom_fields/${fields.find((f: any) => f.name === "tier").id}`);
  });

  test("an admin keeps a sign-in email: PUT, PATCH and a role grant cannot leave an admin without one", async () => {
    const admin = (
      await api.call("POST", "/api/v1/users", { email: "second-admin@example.com", firstname: "Sec", role_ids: [1] })
    ).body;
    const put = await api.call("PUT", `/api/v1/users/${admin.id}`, { firstname: "Second" });
    expect(put.status).toBe(422);
    expect(put.body.error.details).toEqual([
      { field: "email", message: "an administrator signs in with their email, so it cannot be empty" },
    ]);
    expect((await api.call("PATCH", `/api/v1/users/${admin.id}`, { email: null })).status).toBe(422);
    expect((await api.call("GET", `/api/v1/users/${admin.id}`)).body).toMatchObject({
      email: "second-admin@example.com",
      firstname: "Sec",
    });
    const noEmail = (await api.call("POST", "/api/v1/users", { login: "no-email", firstname: "Nomail" })).body;
    expect((await api.call("PATCH", `/api/v1/users/${noEmail.id}`, { role_ids: [1] })).status).toBe(422);
    expect((await api.call("POST", "/api/v1/users", { login: "admin-without-email", role_ids: [1] })).status).toBe(422);
  });
});

describe("PUT /api/v1/organizations/{id}", () => {
  test("fields left out are cleared to a new organization's defaults; the name is required", async () => {
    await api.call("POST", "/api/v1/custom_fields", {
      object_type: "organization",
      name: "industry",
      label: "Industry",
      type: "text",
    });
    const org = (
      await api.call("POST", "/api/v1/organizations", {
        name: "Replace Me",
        domain: "replace.example",
        domain_assignment: true,
        shared: false,
        note: "n",
        active: false,
        industry: "x",
      })
    ).body;
    const put = await api.call("PUT", `/api/v1/organizations/${org.id}`, { name: "Replaced" });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      name: "Replaced",
      domain: null,
      domain_assignment: false,
      shared: true,
      note: null,
      active: true,
      industry: null,
    });
    const noName = await api.call("PUT", `/api/v1/organizations/${org.id}`, { note: "only a note" });
    expect(noName.status).toBe(422);
    expect(noName.body.error.details).toEqual([{ field: "name", message: "is required" }]);
    expect((await api.call("PATCH", `/api/v1/organizations/${org.id}`, { note: "patched" })).body).toMatchObject({
      name: "Replaced",
      note: "patched",
    });
  });
});
