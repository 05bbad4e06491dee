import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeEntities } from "../support/admin-seed";
import { formState } from "../support/form-state";
import { rowsOf } from "../support/store";
import { csrfOf, setupAdmin, startTestServer, type Browser, type TestServer } from "../support/server";

/**
 * Every admin form comes back after a validation error with every value the admin chose: the
 * page's form is read as a browser would submit it, changed, posted with one invalid field, and the
 * answer's form must be exactly what was posted (selects, checkboxes, textareas included).
 */
type State = Record<string, string | string[]>;

let server: TestServer;
let admin: Browser;
beforeAll(async () => {
  server = await startTestServer();
  admin = await setupAdmin(server);
});
afterAll(() => server.close());

/** Posts `state` (plus secrets, which never come back) from the page at `from`; returns the 4xx page. */
async function postForm(from: string, action: string, state: State, secrets: Record<string, string> = {}) {
  const page = await (await admin.get(from)).text();
  const body = new URLSearchParams({ _csrf: csrfOf(page), ...secrets });
  for (const [k, v] of Object.entries(state)) for (const x of Array.isArray(v) ? v : [v]) body.append(k, x);
  const res = await admin.request(action, {
    method: "POST",
    body: body.toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  return { status: res.status, html: await res.text() };
}

/** The form at `from` as it renders, with `changes` applied (undefined unticks a box). */
async function changed(from: string, action: string, changes: Record<string, string | string[] | undefined>) {
  const state: State = await formState(await (await admin.get(from)).text(), action);
  expect(Object.keys(state).length).toBeGreaterThan(0);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete state[k];
    else state[k] = v;
  }
  return state;
}

/** Compared as a browser would send it: one value as a string, blank trigger condition rows left out. */
function normalized(state: State): State {
  const out: State = {};
  for (const [k, v] of Object.entries(state)) {
    const row = /^cond_(?:field|operator|value)_(\d+)$/.exec(k)?.[1];
    if (row !== undefined && !state[`cond_field_${row}`]) continue;
    out[k] = Array.isArray(v) && v.length === 1 ? v[0]! : v;
  }
  return out;
}

async function expectKept(
  from: string,
  action: string,
  changes: Record<string, string | string[] | undefined>,
  secrets: Record<string, string> = {},
) {
  const sent = await changed(from, action, changes);
  const answer = await postForm(from, action, sent, secrets);
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.status).toBeLessThan(500);
  expect(normalized(await formState(answer.html, action))).toEqual(normalized(sent));
  // Typed secrets never come back; each one asks to be typed again.
  for (const [name, value] of Object.entries(secrets)) {
    expect(answer.html).not.toContain(value);
    expect(decodeEntities(answer.html)).toMatch(
      new RegExp(`id="${name}-error"><p class="field-error" role="alert">[^<]*not saved: type it again`),
    );
  }
  return answer;
}

describe("forms keep every value after a validation error", () => {
  test("new webhook: method, authentication, checkboxes and textareas; typed secrets are asked for again", async () => {
    const sent = await changed("/webhooks/new", "/webhooks", {
      name: "CRM",
      url: "not a url",
      method: "PATCH",
      auth_type: "basic",
      auth_username: "bob",
      timeout_seconds: "20",
      headers: "X-Team: support",
      note: "first line\nsecond line",
      active: undefined,
      tls_verify: undefined,
      zammad_compat: "on",
      strict_order: "on",
    });
    const answer = await postForm("/webhooks/new", "/webhooks", sent, {
      auth_password: "pw-typed-123",
      signature_token: "tok-typed-456",
    });
    expect(answer.status).toBe(422);
    expect(await formState(answer.html, "/webhooks")).toEqual(sent);
    expect(answer.html).not.toContain("pw-typed-123");
    expect(answer.html).not.toContain("tok-typed-456");
    const text = decodeEntities(answer.html);
    expect(text).toMatch(/id="auth_password-error"><p class="field-error" role="alert">not saved: type it again/);
    expect(text).toMatch(/id="signature_token-error"><p class="field-error" role="alert">not saved: type it again/);

    // Posted again as the page now stands (the password not retyped), basic auth is refused, never dropped.
    const again = await postForm("/webhooks/new", "/webhooks", { ...sent, url: "http://127.0.0.1:9/hook" });
    expect(again.status).toBe(422);
    expect(decodeEntities(again.html)).toContain("is required for basic auth");
  });

  test("webhook edit", async () => {
    const created = await postForm(
      "/webhooks/new",
      "/webhooks",
      await changed("/webhooks/new", "/webhooks", {
        name: "Edit me",
        url: "http://127.0.0.1:9/hook",
      }),
    );
    expect(created.status).toBe(303);
    const [{ id }] = (await rowsOf<{ id: number }>(server.ctx.db, "SELECT max(id) AS id FROM webhooks")) as [
      { id: number },
    ];
    const path = `/webhooks/${id}`;
    await expectKept(path, path, { url: "", method: "PUT", active: undefined, strict_order: "on", note: "x\ny" });
  });

  test("new trigger: events, match, condition operators and webhooks", async () => {
    const hooks = await rowsOf<{ id: number }>(server.ctx.db, "SELECT id FROM webhooks");
    await expectKept("/triggers/new", "/triggers", {
      name: "",
      active: undefined,
      events: ["ticket.created", "ticket.updated"],
      match: "any",
      cond_field_0: "ticket.title",
      cond_operator_0: "contains",
      cond_value_0: "urgent",
      webhook_ids: hooks.map((h) => String(h.id)),
      note: "a\nb",
    });
  });

  test("new CRM sync: selects, checkboxes, textareas of every operation; secrets are asked for again", async () => {
    const answer = await expectKept(
      "/crm-sync/new",
      "/crm-sync",
      {
        name: "CRM",
        enabled: undefined,
        auth_type: "bearer",
        filter_role: "Agent",
        create_method: "PUT",
        create_url: "not a url",
        create_data: '{"a": 1}',
        create_tls_verify: undefined,
        update_enabled: "1",
        update_method: "PATCH",
      },
      { auth_token: "crm-token-typed-1" },
    );
    expect(answer.html).toContain('name="filter_role"');
  });

  test("Clearbit settings: checkboxes and mappings", async () => {
    await expectKept(
      "/integrations/clearbit",
      "/integrations/clearbit",
      {
        enabled: "true",
        user_mappings: "person.nonsense",
      },
      { api_key: "sk_typed_key_123" },
    );
  });

  test("audiences: match and conditions", async () => {
    await expectKept("/integrations/audiences", "/integrations/audiences", {
      name: "Recent",
      match: "any",
      conditions: "email nonsense-operator x\nvip is true",
    });
  });

  test("people, organizations, groups, custom fields: the record forms", async () => {
    await expectKept("/people/new", "/people", {
      firstname: "Ann",
      email: "not an email",
      address: "Street 1\nTown",
      vip: "true",
      active: undefined,
    });
    const person = await postForm("/people/new", "/people", { email: "kept@example.com", active: "true" });
    expect(person.status).toBe(303);
    const [{ id }] = (await rowsOf<{ id: number }>(server.ctx.db, "SELECT max(id) AS id FROM users")) as [
      { id: number },
    ];
    await expectKept(`/people/${id}/edit`, `/people/${id}`, {
      email: "not an email",
      vip: "true",
      note: "a\nb",
      active: undefined,
    });
    await expectKept("/organizations/new", "/organizations", {
      name: "",
      note: "n\nm",
      shared: "true",
      active: undefined,
    });
    await expectKept("/groups", "/groups", { name: "", note: "a\nb", active: undefined });
    await expectKept("/custom-fields", "/custom-fields", {
      object_type: "organization",
      label: "",
      type: "select",
      options: "a\nb",
      required: "true",
    });
  });

  test("administrators, tokens and write keys", async () => {
    await expectKept(
      "/admins",
      "/admins",
      { email: "not an email", firstname: "Bo", lastname: "Admin" },
      { password: "typed password 123" },
    );
    await expectKept("/tokens", "/tokens", { name: " " });
    await expectKept("/write-keys", "/write-keys", { name: "" });
  });
});
