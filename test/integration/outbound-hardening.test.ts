import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startApi, type Api } from "../support/api";
import { eventually } from "../support/enrichment";
import { signIn, startTestServer, type Browser } from "../support/server";
import { startReceiver, type Receiver } from "../support/receiver";

/**
 * Hardening of what leaves the box: URL paths, redaction, secret headers, raw template tags, loops, header encoding.
 */
let api: Api;
let browser: Browser;
let receiver: Receiver;
let writeKey: string;
/** How secret header values come back from the API and the forms. */
const MASK = "••••••••";
const relayAnswers: number[] = [];
beforeAll(async () => {
  // Echoes every request back, headers and body, as receivers that reflect requests do.
  receiver = startReceiver(async (req) => {
    if (req.path === "/relay") {
      // Another host that turns each webhook into an identify call back to us, passing the hop count on.
      const res = await fetch(`${api.server.url}/v1/identify`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
          "x-switchboard-hop": req.headers["x-switchboard-hop"] ?? "",
        },
        body: JSON.stringify({
          userId: "looper",
          traits: { email: "looper@example.com", round: req.headers["x-switchboard-hop"] },
        }),
      });
      relayAnswers.push(res.status);
      return { status: 200 };
    }
    const echo = JSON.stringify({ headers: req.headers, body: req.body });
    const headers: Record<string, string> = { "content-type": "application/json" };
    for (const [k, v] of Object.entries(req.headers))
      if (/^(authorization|x-)/.test(k)) headers[`x-echo-${k}`] = v.replace(/[^\x20-\x7e]/g, "?");
    return req.method === "POST" && req.path.startsWith("/crm/people")
      ? { status: 201, headers, body: req.body.includes("dotdot") ? '{"id": ".."}' : '{"id": "p1"}' }
      : { status: 200, headers, body: echo };
  });
  api = await startApi();
  browser = await signIn(api.server);
  writeKey = (await api.call("POST", "/api/v1/write_keys", { name: "site" })).body.key;
});
afterAll(async () => {
  await api.server.close();
  await receiver.stop();
});

const identify = (body: unknown) =>
  fetch(`${api.server.url}/v1/identify`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
    },
    body: JSON.stringify(body),
  });

/** Waits until a webhook delivery has finished, and returns its detail (API shape). */
async function finishedDelivery(webhookId: number, jobId: number) {
  return eventually(async () => {
    const d = (await api.call("GET", `/api/v1/webhooks/${webhookId}/deliveries/${jobId}`)).body;
    return d.status === "succeeded" || d.status === "failed" ? d : null;
  });
}

async function crmDrained(syncId: number) {
  return eventually(async () => {
    const r = (await api.call("GET", `/api/v1/crm_syncs/${syncId}`)).body;
    return r.state.queued_calls === 0 ? r : null;
  });
}

/** The database file and its WAL, as bytes an attacker with the file would read. */
const databaseText = () =>
  ["switchboard.db", "switchboard.db-wal"]
    .map((f) => {
      try {
        return readFileSync(join(api.server.dataDir, f)).toString("latin1");
      } catch {
        return "";
      }
    })
    .join("\n");

describe("CRM URL paths stay inside their segment (item 6)", () => {
  test('a CRM answering the id ".." is refused and logged; later calls never reach another path', async () => {
    const sync = await api.call("POST", "/api/v1/crm_syncs", {
      name: "dotdot crm",
      create: { unique_id_path: "$.id", url: `${receiver.url}/crm/people`, data: '{"email": "{{ person.email }}"}' },
      update: {
        enabled: true,
        method: "PUT",
        url: `${receiver.url}/crm/people/{{ external_id }}`,
        data: '{"email": "{{ person.email }}"}',
      },
      delete: { enabled: true, url: `${receiver.url}/crm/people/{{ external_id }}` },
    });
    expect(sync.status).toBe(201);
    const start = receiver.requests.length;
    const u = (await api.call("POST", "/api/v1/users", { email: "dotdot@example.com", firstname: "Dot" })).body;
    await crmDrained(sync.body.id);
    await api.call("PATCH", `/api/v1/users/${u.id}`, { lastname: "Dot" });
    await api.call("DELETE", `/api/v1/users/${u.id}`);
    await crmDrained(sync.body.id);
    const paths = receiver.requests.slice(start).map((r) => `${r.method} ${r.path}`);
    expect(paths).toEqual(["POST /crm/people"]);
    const skipped = (await api.call("GET", `/api/v1/crm_syncs/${sync.body.id}/logs?outcome=skipped`)).body.data;
    expect(skipped.find((e: any) => e.operation === "create").reason).toContain('the CRM answered the id ".."');
    expect(skipped.some((e: any) => e.operation === "update")).toBe(true);
    const history = (await api.call("GET", `/api/v1/crm_syncs/${sync.body.id}/users/${u.id}`)).body;
    expect(history.external_id).toBeNull();
    await api.call("DELETE", `/api/v1/crm_syncs/${sync.body.id}`);
  });

  test('a login ".." from identify is not put into a URL path: the call is skipped with the reason', async () => {
    const sync = await api.call("POST", "/api/v1/crm_syncs", {
      name: "by login",
      create: {
        create_only: true,
        method: "PUT",
        url: `${receiver.url}/crm/by-login/{{ person.login }}`,
        data: '{"email": "{{ person.email }}"}',
      },
    });
    expect(sync.status).toBe(201);
    const start = receiver.requests.length;
    expect((await identify({ userId: "..", traits: { email: "dots@example.com" } })).status).toBe(200);
    expect((await identify({ userId: "fine id/1", traits: { email: "fine@example.com" } })).status).toBe(200);
    await crmDrained(sync.body.id);
    expect(receiver.requests.slice(start).map((r) => `${r.method} ${r.path}`)).toEqual([
      "PUT /crm/by-login/fine%20id%2F1",
    ]);
    const skipped = (await api.call("GET", `/api/v1/crm_syncs/${sync.body.id}/logs?outcome=skipped`)).body.data;
    expect(skipped[0].reason).toContain('"." or ".." path segment');
    await api.call("DELETE", `/api/v1/crm_syncs/${sync.body.id}`);
  });
});

describe("credentials never come back through echoed answers (item 7)", () => {
  test("basic auth: password, base64 user:password and header are redacted from log, API, page and file", async () => {
    const password = "s3cr/et pass+wörd";
    const w = (
      await api.call("POST", "/api/v1/webhooks", {
        name: "echo basic",
        url: `${receiver.url}/echo`,
        auth_type: "basic",
        auth_username: "svc",
        auth_password: password,
      })
    ).body;
    const job = (await api.call("POST", `/api/v1/webhooks/${w.id}/test`, { sample: "user" })).body;
    const detail = await finishedDelivery(w.id, job.id);
    const b64 = Buffer.from(`svc:${password}`).toString("base64");
    const sent = receiver.requests.find((r) => r.path === "/echo" && r.headers.authorization === `Basic ${b64}`);
    expect(sent).toBeDefined();
    const page = await (await browser.get(`/webhooks/${w.id}/deliveries/${job.id}`)).text();
    const log = JSON.stringify((await api.call("GET", `/api/v1/webhooks/${w.id}/deliveries/${job.id}`)).body);
    expect(JSON.stringify(detail)).toContain("[REDACTED]");
    for (const form of [
      password,
      encodeURIComponent(password),
      JSON.stringify(password).slice(1, -1),
      b64,
      Buffer.from(`svc:${password}`).toString("base64url"),
    ]) {
      expect(log).not.toContain(form);
      expect(page).not.toContain(form);
      expect(databaseText()).not.toContain(form);
    }
  });

  test("bearer auth on a CRM sync: the token echoed in the answer's body and headers is redacted", async () => {
    const token = "tok-echo-0123456789";
    const sync = (
      await api.call("POST", "/api/v1/crm_syncs", {
        name: "echo bearer",
        auth: { type: "bearer", token },
        create: { url: `${receiver.url}/echo-crm`, data: '{"email": "{{ person.email }}"}', create_only: true },
      })
    ).body;
    await api.call("POST", "/api/v1/users", { email: "bearer-echo@example.com" });
    await crmDrained(sync.id);
    const log = (await api.call("GET", `/api/v1/crm_syncs/${sync.id}/logs`)).body.data;
    expect(log[0].response.body).toContain("[REDACTED]");
    expect(JSON.stringify(log)).not.toContain(token);
    expect(databaseText()).not.toContain(token);
    await api.call("DELETE", `/api/v1/crm_syncs/${sync.id}`);
  });
});

describe("raw template tags are refused in JSON and URL contexts (item 9)", () => {
  test("webhook custom payloads: API and form name the position", async () => {
    const res = await api.call("POST", "/api/v1/webhooks", {
      name: "raw",
      url: `${receiver.url}/raw`,
      custom_payload: '{\n  "name": "{{{ user.firstname }}}"\n}',
    });
    expect(res.status).toBe(422);
    expect(res.body.error.details[0].field).toBe("custom_payload");
    expect(res.body.error.details[0].message).toContain("line 2, column 12");
    const page = await browser.submit("/webhooks/new", "/webhooks", {
      name: "raw",
      url: `${receiver.url}/raw`,
      method: "POST",
      timeout_seconds: "15",
      max_attempts: "5",
      retry_base_seconds: "30",
      auth_type: "none",
      custom_payload: '{"n": "{{& user.firstname }}"}',
    });
    expect(page.status).toBe(422);
    const text = await page.text();
    expect(text).toContain("unescaped tag");
    expect(text).toContain("line 1, column 8");
  });

  test("CRM sync templates: URL, headers and data", async () => {
    const res = await api.call("POST", "/api/v1/crm_syncs", {
      name: "raw crm",
      create: {
        url: `${receiver.url}/people/{{{ person.login }}}`,
        headers: '{"X-A": "{{& person.email }}"}',
        data: '{"a": {{{ person.first_name }}}}',
      },
    });
    expect(res.status).toBe(422);
    const fields = res.body.error.details.map((d: any) => d.field);
    expect(fields).toEqual(expect.arrayContaining(["create.url", "create.headers", "create.data"]));
    expect(res.body.error.details.find((d: any) => d.field === "create.data").message).toContain("line 1, column 7");
  });
});

describe("bad input answers 4xx, never 500 (item 14)", () => {
  test("deliveries?limit=500 is a full page; limit=501 is refused naming limit", async () => {
    const w = (await api.call("POST", "/api/v1/webhooks", { name: "limits", url: `${receiver.url}/limits` })).body;
    expect((await api.call("GET", `/api/v1/webhooks/${w.id}/deliveries?limit=500`)).status).toBe(200);
    const bad = await api.call("GET", `/api/v1/webhooks/${w.id}/deliveries?limit=501`);
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe("limit");
  });

  test("a 5,000-deep user_id in a CRM preview is refused at parse time; a shallow bad one is named", async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    const res = await api.call("POST", "/api/v1/crm_syncs/preview", {
      user_id: deep,
      create: { url: `${receiver.url}/p` },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("malformed_body");
    const shallow = await api.call("POST", "/api/v1/crm_syncs/preview", {
      user_id: [[1]],
      create: { url: `${receiver.url}/p` },
    });
    expect(shallow.status).toBe(422);
    expect(shallow.body.error.details[0].field).toBe("user_id");
  });

  test("the trigger form posted as text/plain answers 415", async () => {
    const page = await (await browser.get("/triggers/new")).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const res = await browser.request("/triggers", {
      method: "POST",
      headers: { "content-type": "text/plain", "x-csrf-token": csrf },
      body: "name=x",
    });
    expect(res.status).toBe(415);
    const api415 = await fetch(`${api.server.url}/api/v1/triggers`, {
      method: "POST",
      headers: { authorization: `Bearer ${api.token}`, "content-type": "text/plain" },
      body: "name=x",
    });
    expect(api415.status).toBeLessThan(500);
    expect((await api415.json()).error.code).toBeDefined();
  });
});

describe("header values beyond Latin-1 (item 18)", () => {
  const decode = (v: string) => decodeURIComponent(v.replace(/^UTF-8''/, ""));

  test("a trigger named with an emoji delivers, its name RFC 8187-encoded in X-Switchboard-Trigger", async () => {
    const name = "Déjà vu 🚀 'quoted'";
    const w = (await api.call("POST", "/api/v1/webhooks", { name: "emoji", url: `${receiver.url}/emoji-trigger` }))
      .body;
    expect(
      (await api.call("POST", "/api/v1/triggers", { name, events: ["organization.created"], webhook_ids: [w.id] }))
        .status,
    ).toBe(201);
    await api.call("POST", "/api/v1/organizations", { name: "Emoji Org" });
    const req = await eventually(async () => receiver.requests.find((r) => r.path === "/emoji-trigger"));
    expect(req.headers["x-switchboard-trigger"]).toBe("UTF-8''D%C3%A9j%C3%A0%20vu%20%F0%9F%9A%80%20%27quoted%27");
    expect(decode(req.headers["x-switchboard-trigger"]!)).toBe(name);
    const jobs = (await api.call("GET", `/api/v1/webhooks/${w.id}/deliveries`)).body.data;
    await finishedDelivery(w.id, jobs[0].id).then((d) => expect(d.status).toBe("succeeded"));
    await api.call("PATCH", `/api/v1/webhooks/${w.id}`, { active: false });
  });

  test("a header value beyond Latin-1 is refused at save; a CRM header rendering an emoji is encoded", async () => {
    const bad = await api.call("POST", "/api/v1/webhooks", {
      name: "cup",
      url: `${receiver.url}/cup`,
      headers: { "X-Cup": "☕" },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe("headers.X-Cup");
    const sync = (
      await api.call("POST", "/api/v1/crm_syncs", {
        name: "named",
        create: {
          url: `${receiver.url}/crm-header`,
          headers: '{"X-Name": "{{ person.first_name }}"}',
          data: "{}",
          create_only: true,
        },
      })
    ).body;
    await api.call("POST", "/api/v1/users", { email: "emoji-header@example.com", firstname: "Zoë 🎉" });
    const req = await eventually(async () => receiver.requests.find((r) => r.path === "/crm-header"));
    expect(decode(req.headers["x-name"]!)).toBe("Zoë 🎉");
    await api.call("DELETE", `/api/v1/crm_syncs/${sync.id}`);
  });
});

describe("secret custom headers (item 8)", () => {
  const key = "key-ABCDEF-1234567890";
  test("webhooks: sealed at rest, masked in API and form, redacted from echoed logs; the mask keeps it", async () => {
    const created = await api.call("POST", "/api/v1/webhooks", {
      name: "secret hdr",
      url: `${receiver.url}/secret-hdr`,
      headers: { "X-Env": "test" },
      secret_headers: { "X-Api-Key": key },
    });
    expect(created.status).toBe(201);
    expect(created.body.secret_headers).toEqual({ "X-Api-Key": MASK });
    expect(created.body.headers).toEqual({ "X-Env": "test" });
    const id = created.body.id;
    expect(
      (await api.call("PATCH", `/api/v1/webhooks/${id}`, { secret_headers: { "X-Api-Key": MASK }, note: "kept" }))
        .status,
    ).toBe(200);
    // A plain header may not shadow a secret one.
    expect(
      (await api.call("PATCH", `/api/v1/webhooks/${id}`, { headers: { "x-api-key": "clear" } })).body.error.details[0]
        .field,
    ).toBe("secret_headers.X-Api-Key");
    // Saving the edit form as shown (the mask in place) keeps the value too.
    const page = await (await browser.get(`/webhooks/${id}`)).text();
    expect(page).toContain(`X-Api-Key: ${MASK}`);
    expect(page).not.toContain(key);
    const saved = await browser.submit(`/webhooks/${id}`, `/webhooks/${id}`, {
      name: "secret hdr",
      url: `${receiver.url}/secret-hdr`,
      method: "POST",
      timeout_seconds: "15",
      max_attempts: "5",
      retry_base_seconds: "30",
      auth_type: "none",
      active: "on",
      tls_verify: "on",
      headers: "X-Env: test",
      secret_headers: `X-Api-Key: ${MASK}`,
    });
    expect(saved.status).toBe(303);
    const job = (await api.call("POST", `/api/v1/webhooks/${id}/test`, { sample: "user" })).body;
    const detail = await finishedDelivery(id, job.id);
    expect(receiver.requests.filter((r) => r.path === "/secret-hdr").at(-1)!.headers["x-api-key"]).toBe(key);
    expect(JSON.stringify(detail)).not.toContain(key);
    expect(await (await browser.get(`/webhooks/${id}/deliveries/${job.id}`)).text()).not.toContain(key);
    expect(JSON.stringify((await api.call("GET", `/api/v1/webhooks/${id}`)).body)).not.toContain(key);
    expect(databaseText()).not.toContain(key);
  });

  test("CRM syncs: set through the form, masked, sent with every call, never stored or shown in clear", async () => {
    const crmKey = "crm-key-ZYXW-0987654321";
    const form = {
      name: "crm secret hdr",
      enabled: "1",
      auth_type: "none",
      secret_headers: `X-Api-Key: ${crmKey}`,
      create_method: "POST",
      create_url: `${receiver.url}/crm-secret`,
      create_only: "1",
      create_data: '{"e": "{{ person.email }}"}',
      create_tls_verify: "1",
      create_timeout: "15",
      update_timeout: "15",
      delete_timeout: "15",
    };
    const created = await browser.submit("/crm-sync/new", "/crm-sync", form);
    expect(created.status).toBe(303);
    const id = Number(/\/crm-sync\/(\d+)/.exec(created.headers.get("location")!)![1]);
    expect((await api.call("GET", `/api/v1/crm_syncs/${id}`)).body.secret_headers).toEqual({ "X-Api-Key": MASK });
    const page = await (await browser.get(`/crm-sync/${id}`)).text();
    expect(page).toContain(`X-Api-Key: ${MASK}`);
    expect(page).not.toContain(crmKey);
    expect(
      (await browser.submit(`/crm-sync/${id}`, `/crm-sync/${id}`, { ...form, secret_headers: `X-Api-Key: ${MASK}` }))
        .status,
    ).toBe(303);
    await api.call("POST", "/api/v1/users", { email: "secret-header@example.com" });
    await crmDrained(id);
    expect(receiver.requests.filter((r) => r.path === "/crm-secret").at(-1)!.headers["x-api-key"]).toBe(crmKey);
    const log = JSON.stringify((await api.call("GET", `/api/v1/crm_syncs/${id}/logs`)).body);
    expect(log).toContain("[REDACTED]");
    expect(log).not.toContain(crmKey);
    expect(await (await browser.get(`/crm-sync/${id}?tab=logs`)).text()).not.toContain(crmKey);
    expect(databaseText()).not.toContain(crmKey);
    await api.call("DELETE", `/api/v1/crm_syncs/${id}`);
  });
});

describe("loops back into this server (item 11)", () => {
  test("a webhook or CRM sync to this server's own address is refused naming the url, unless allowed", async () => {
    const port = api.server.port;
    for (const url of [`${api.server.url}/v1/identify`, `http://localhost:${port}/v1/identify`]) {
      const res = await api.call("POST", "/api/v1/webhooks", { name: "self", url });
      expect(res.status).toBe(422);
      expect(res.body.error.details[0].field).toBe("url");
      expect(res.body.error.details[0].message).toContain("this Switchboard server itself");
    }
    const allowed = await api.call("POST", "/api/v1/webhooks", {
      name: "self ok",
      url: `${api.server.url}/v1/identify`,
      allow_self: true,
      active: false,
    });
    expect(allowed.status).toBe(201);
    expect(allowed.body.allow_self).toBe(true);
    expect((await api.call("PATCH", `/api/v1/webhooks/${allowed.body.id}`, { allow_self: false })).status).toBe(422);
    const sync = await api.call("POST", "/api/v1/crm_syncs", {
      name: "self crm",
      create: { url: `http://127.0.0.1:${port}/api/v1/users`, data: "{}", create_only: true },
    });
    expect(sync.status).toBe(422);
    expect(sync.body.error.details[0].field).toBe("create.url");
    // The form: refused with the reason, then saved with the checkbox.
    const form = {
      name: "self form",
      url: `${api.server.url}/v1/identify`,
      method: "POST",
      timeout_seconds: "15",
      max_attempts: "5",
      retry_base_seconds: "30",
      auth_type: "none",
    };
    const refused = await browser.submit("/webhooks/new", "/webhooks", form);
    expect(refused.status).toBe(422);
    expect(await refused.text()).toContain("this Switchboard server itself");
    expect((await browser.submit("/webhooks/new", "/webhooks", { ...form, allow_self: "on" })).status).toBe(303);
  });

  test("the configured base URL counts as this server", async () => {
    const other = await startTestServer({ baseUrl: "https://switchboard.example.com" });
    try {
      const { createToken, setupAdmin } = await import("../support/server");
      const token = await createToken(await setupAdmin(other));
      const res = await fetch(`${other.url}/api/v1/webhooks`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "base", url: "https://switchboard.example.com/v1/identify" }),
      });
      expect(res.status).toBe(422);
      expect((await res.json()).error.message).toContain("base URL");
    } finally {
      await other.close();
    }
  });

  test("deliveries carry X-Switchboard-Hop; a loop through another host is cut after a few hops (508)", async () => {
    const w = (await api.call("POST", "/api/v1/webhooks", { name: "relay", url: `${receiver.url}/relay` })).body;
    const t = (
      await api.call("POST", "/api/v1/triggers", {
        name: "looper",
        events: ["user.created", "user.updated"],
        webhook_ids: [w.id],
        conditions: [{ field: "user.login", operator: "is", value: "looper" }],
      })
    ).body;
    expect((await identify({ userId: "looper", traits: { email: "looper@example.com", round: "0" } })).status).toBe(
      200,
    );
    await eventually(async () => relayAnswers.length >= 4);
    await Bun.sleep(500);
    const hops = receiver.requests.filter((r) => r.path === "/relay").map((r) => r.headers["x-switchboard-hop"]);
    expect(hops).toEqual(["1", "2", "3", "4"]);
    expect(relayAnswers).toEqual([200, 200, 200, 508]);
    await api.call("DELETE", `/api/v1/triggers/${t.id}`);
    const direct = await fetch(`${api.server.url}/v1/identify`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-switchboard-hop": "4" },
      body: "{}",
    });
    expect(direct.status).toBe(508);
    expect((await direct.json()).error.code).toBe("loop_detected");
  });
});
