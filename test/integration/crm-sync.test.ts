import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";
import { startJsonServer, type JsonServer } from "../support/json-server";
import { selfSignedCert, startReceiver, type Receiver } from "../support/receiver";

const DATA = `{
  "first_name": "{{ person.first_name }}",
  "last_name": "{{person.last_name}}",
  "name": "{{ user.name }}",
  "email": "{{ person.email }}",
  "organizations": "{{ person.organizations }}",
  "whatsapp": "{{ person.contact.whatsapp }}",
  "sb_id": {{ person.id }}
}`;

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api.server.close();
});

async function call(method: string, path: string, body?: unknown) {
  return api.call(method, path, body);
}

/** Waits until a sync has nothing queued or in flight. */
async function drained(syncId: number, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call("GET", `/api/v1/crm_syncs/${syncId}`);
    if (r.body.state.queued_calls === 0) return r.body;
    if (Date.now() > deadline) throw new Error(`sync ${syncId} still has ${r.body.state.queued_calls} queued calls`);
    await Bun.sleep(50);
  }
}

function jsonServerSync(crm: JsonServer, extra: Record<string, unknown> = {}) {
  return {
    name: "json-server CRM",
    create: {
      unique_id_path: "$.id",
      method: "POST",
      url: `${crm.url}/people`,
      data: DATA,
      headers: '{"X-Source": "switchboard"}',
    },
    update: { enabled: true, method: "PUT", url: `${crm.url}/people/{{external_id}}`, data: DATA },
    delete: { enabled: true, method: "DELETE", url: `${crm.url}/people/{{ external_id }}` },
    ...extra,
  };
}

describe("CRM sync against json-server", () => {
  test("after a scripted series of changes the CRM's data equals ours", async () => {
    const crm = await startJsonServer();
    try {
      const org = await call("POST", "/api/v1/organizations", { name: "Acme" });
      const created = await call("POST", "/api/v1/crm_syncs", jsonServerSync(crm));
      expect(created.status).toBe(201);
      const syncId = created.body.id;
      const ids: number[] = [];
      for (const [i, name] of ["Ada", "Grace", "Linus"].entries()) {
        const u = await call("POST", "/api/v1/users", {
          email: `${name.toLowerCase()}@example.com`,
          firstname: name,
          lastname: `L${i}`,
          organization_id: org.body.id,
          traits: { whatsapp: `+1-${i}` },
        });
        expect(u.status).toBe(201);
        ids.push(u.body.id);
      }
      // Several quick updates; then a delete; then another person.
      await call("PATCH", `/api/v1/users/${ids[0]}`, { lastname: "Lovelace" });
      await call("PATCH", `/api/v1/users/${ids[0]}`, { firstname: "Augusta Ada" });
      await call("PATCH", `/api/v1/users/${ids[1]}`, { lastname: "Hopper" });
      await call("DELETE", `/api/v1/users/${ids[2]}`);
      const late = await call("POST", "/api/v1/users", {
        email: "ken@example.com",
        firstname: "Ken",
        lastname: "Thompson",
      });
      await drained(syncId);
      await call("PATCH", `/api/v1/users/${late.body.id}`, { lastname: "Thompson Jr." });
      const state = await drained(syncId);
      expect(state.state.people.with_crm_id).toBe(3);

      const ours = (await call("GET", "/api/v1/users?limit=100")).body.data.filter(
        (u: any) => u.email !== "admin@example.com",
      );
      const theirs = await crm.get("/people");
      const pick = (u: any) => ({
        sb_id: u.id,
        first_name: u.firstname,
        last_name: u.lastname,
        email: u.email,
        organizations: u.organization ?? "",
      });
      expect(
        theirs
          .map((p: any) => ({
            sb_id: p.sb_id,
            first_name: p.first_name,
            last_name: p.last_name,
            email: p.email,
            organizations: p.organizations,
          }))
          .sort((a: any, b: any) => a.sb_id - b.sb_id),
      ).toEqual(ours.map(pick).sort((a: any, b: any) => a.sb_id - b.sb_id));
      expect(theirs.find((p: any) => p.sb_id === ids[0]).whatsapp).toBe("+1-0");
      expect(theirs.find((p: any) => p.sb_id === ids[0]).name).toBe("Augusta Ada Lovelace");

      // Every call is in the log with request and response; per-user history lists only that person.
      const log = (await call("GET", `/api/v1/crm_syncs/${syncId}/logs?limit=200`)).body.data;
      expect(
        log.some(
          (e: any) =>
            e.kind === "call" && e.operation === "delete" && e.response?.status === 200 && e.user_id === ids[2],
        ),
      ).toBe(true);
      const history = (await call("GET", `/api/v1/crm_syncs/${syncId}/users/${ids[0]}`)).body;
      expect(history.external_id).toBeTruthy();
      const ops = history.log.data
        .filter((e: any) => e.kind === "call")
        .map((e: any) => e.operation)
        .reverse();
      expect(ops[0]).toBe("create");
      expect(history.log.data.every((e: any) => e.user_id === ids[0])).toBe(true);
      const createCall = history.log.data.find((e: any) => e.operation === "create");
      expect(createCall.request.headers["X-Source"] ?? createCall.request.headers["x-source"]).toBe("switchboard");
      expect(JSON.parse(createCall.response.body).id).toBeDefined();

      // Sync all is idempotent: people with an id get an update, not a second create.
      const bulk = await call("POST", `/api/v1/crm_syncs/${syncId}/sync_all`);
      expect(bulk.status).toBe(202);
      // The administrator existed before the sync: created now; the three synced people are updated.
      expect(bulk.body.creates).toBe(1);
      expect(bulk.body.updates).toBe(3);
      const after = await drained(syncId);
      expect(after.state.bulk).toMatchObject({ total: 4, done: 4, failed: 0 });
      expect((await crm.get("/people")).length).toBe(4);
      const second = await call("POST", `/api/v1/crm_syncs/${syncId}/sync_all`);
      expect(second.body).toMatchObject({ creates: 0, updates: 4 });
      await drained(syncId);
      expect((await crm.get("/people")).length).toBe(4);
    } finally {
      await crm.stop();
    }
  });

  test("a sync added later creates existing people with sync all, then resync of one person updates", async () => {
    const crm = await startJsonServer();
    try {
      const u = await call("POST", "/api/v1/users", {
        email: "existing@example.com",
        firstname: "Old",
        lastname: "Timer",
      });
      const s = (await call("POST", "/api/v1/crm_syncs", jsonServerSync(crm, { filter: { role: "Customer" } }))).body;
      const bulk = await call("POST", `/api/v1/crm_syncs/${s.id}/sync_all`);
      expect(bulk.body.creates).toBeGreaterThanOrEqual(1);
      await drained(s.id);
      expect((await crm.get("/people")).some((p: any) => p.email === "existing@example.com")).toBe(true);
      const again = await call("POST", `/api/v1/crm_syncs/${s.id}/users/${u.body.id}/resync`);
      expect(again.body.planned).toBe("update");
      await drained(s.id);
      expect((await crm.get("/people")).filter((p: any) => p.email === "existing@example.com").length).toBe(1);
      // The admin (role Admin, not Customer) is outside the filter.
      expect((await crm.get("/people")).some((p: any) => p.email === "admin@example.com")).toBe(false);
      await call("DELETE", `/api/v1/crm_syncs/${s.id}`);
    } finally {
      await crm.stop();
    }
  });
});

/** A sync posting to a receiver, with the rest of the settings given. */
function receiverSync(url: string, extra: Record<string, any> = {}) {
  const { create, update, ...rest } = extra;
  return {
    name: "receiver",
    create: {
      unique_id_path: "$.id",
      url: `${url}/people`,
      data: '{"name": "{{ person.name }}", "email": "{{ person.email }}", "note": "{{ person.summary }}"}',
      ...create,
    },
    update: {
      enabled: true,
      url: `${url}/people/{{external_id}}?email={{ person.email }}`,
      data: '{"name": "{{ person.name }}", "note": "{{ person.summary }}"}',
      ...update,
    },
    ...rest,
  };
}

const createdAnswer = (id: string | number) => () => ({
  status: 201,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ data: { record: { id } } }),
});

describe("CRM sync against real receivers", () => {
  let receiver: Receiver;
  beforeAll(() => {
    receiver = startReceiver();
  });
  afterAll(async () => {
    await receiver.stop();
  });

  test("names with quotes, backslashes, emoji and newlines arrive intact; URL values are percent-encoded", async () => {
    receiver.answer(createdAnswer("rec/1 a"));
    const s = (
      await call(
        "POST",
        "/api/v1/crm_syncs",
        receiverSync(receiver.url, { create: { unique_id_path: "$.data.record.id" } }),
      )
    ).body;
    const start = receiver.requests.length;
    const name = { firstname: 'Zoë "Z" O\'Brien \\ 😀', lastname: "Back\\slash\nNew line" };
    const u = (
      await call("POST", "/api/v1/users", { email: "weird+name@example.com", ...name, note: "tab\there </script>" })
    ).body;
    await receiver.waitFor(start + 1);
    const created = receiver.requests[start]!;
    expect(created.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(created.body)).toEqual({
      name: `${name.firstname} ${name.lastname}`,
      email: "weird+name@example.com",
      note: "tab\there </script>",
    });
    await drained(s.id);
    await call("PATCH", `/api/v1/users/${u.id}`, { lastname: "Ünïcode ✓" });
    await receiver.waitFor(start + 2);
    const updated = receiver.requests[start + 1]!;
    expect(updated.method).toBe("PUT");
    // The id from $.data.record.id and the email are percent-encoded into the URL.
    expect(updated.path).toBe(`/people/rec%2F1%20a?email=weird%2Bname%40example.com`);
    expect(JSON.parse(updated.body).name).toBe(`${name.firstname} Ünïcode ✓`);
    await drained(s.id);
    await call("DELETE", `/api/v1/crm_syncs/${s.id}`);
  });

  test("an edited sync applies to the very next change and call (the node's copy of the syncs is read again)", async () => {
    receiver.answer(createdAnswer(5));
    const sync = receiverSync(receiver.url, { create: { unique_id_path: "$.data.record.id" } });
    const s = (await call("POST", "/api/v1/crm_syncs", sync)).body;
    const start = receiver.requests.length;
    const u = (await call("POST", "/api/v1/users", { email: "edited@example.com", firstname: "Ed", lastname: "v0" }))
      .body;
    await drained(s.id);
    const patched = await call("PATCH", `/api/v1/crm_syncs/${s.id}`, {
      update: { url: `${receiver.url}/contacts/{{external_id}}` },
    });
    expect(patched.status).toBe(200);
    await call("PATCH", `/api/v1/users/${u.id}`, { lastname: "v1" });
    await drained(s.id);
    expect(receiver.requests.slice(start).map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /people",
      "PUT /contacts/5",
    ]);
    // Switched off: the next change plans nothing.
    expect((await call("PATCH", `/api/v1/crm_syncs/${s.id}`, { enabled: false })).status).toBe(200);
    await call("PATCH", `/api/v1/users/${u.id}`, { lastname: "v2" });
    expect((await call("GET", `/api/v1/crm_syncs/${s.id}`)).body.state.queued_calls).toBe(0);
    await call("DELETE", `/api/v1/crm_syncs/${s.id}`);
  });

  test("without a Unique ID Path updates are not sent, and the log and the sync say why", async () => {
    receiver.answer(() => ({ status: 201, body: '{"id": 7}' }));
    const s = (
      await call(
        "POST",
        "/api/v1/crm_syncs",
        receiverSync(receiver.url, { create: { unique_id_path: "", create_only: true } }),
      )
    ).body;
    const start = receiver.requests.length;
    const u = (await call("POST", "/api/v1/users", { email: "noid@example.com", firstname: "No", lastname: "Id" }))
      .body;
    await drained(s.id);
    await call("PATCH", `/api/v1/users/${u.id}`, { lastname: "Idea" });
    const state = await drained(s.id);
    expect(receiver.requests.length).toBe(start + 1);
    expect(state.state.missing_id_reasons[0].reason).toContain("no Unique ID Path is set");
    const skipped = (await call("GET", `/api/v1/crm_syncs/${s.id}/logs?outcome=skipped`)).body.data;
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ kind: "skipped", operation: "update", user_id: u.id });
    expect(skipped[0].reason).toContain("no Unique ID Path is set");
    await call("DELETE", `/api/v1/crm_syncs/${s.id}`);
  });

  test("pending updates for one person collapse into one call carrying the latest data; order holds", async () => {
    // The create answers slowly, so updates pile up behind it.
    receiver.answer((req) =>
      req.method === "POST"
        ? { status: 201, body: '{"data": {"record": {"id": 42}}}', delayMs: 1500 }
        : { status: 200 },
    );
    const s = (
      await call(
        "POST",
        "/api/v1/crm_syncs",
        receiverSync(receiver.url, { create: { unique_id_path: "$.data.record.id" } }),
      )
    ).body;
    const start = receiver.requests.length;
    const u = (await call("POST", "/api/v1/users", { email: "busy@example.com", firstname: "Busy", lastname: "v0" }))
      .body;
    await receiver.waitFor(start + 1);
    for (let i = 1; i <= 5; i++) await call("PATCH", `/api/v1/users/${u.id}`, { lastname: `v${i}` });
    await drained(s.id);
    const mine = receiver.requests.slice(start);
    expect(mine.map((r) => r.method)).toEqual(["POST", "PUT"]);
    expect(JSON.parse(mine[1]!.body).name).toBe("Busy v5");
    expect(mine[1]!.path.startsWith("/people/42?")).toBe(true);
    await call("DELETE", `/api/v1/crm_syncs/${s.id}`);
  });

  test("a call the CRM refuses fails, is logged with request and response, and can be retried", async () => {
    receiver.answer(() => ({ status: 422, body: '{"error": "email taken"}' }));
    const s = (
      await call(
        "POST",
        "/api/v1/crm_syncs",
        receiverSync(receiver.url, { create: { unique_id_path: "$.data.record.id" } }),
      )
    ).body;
    const u = (
      await call("POST", "/api/v1/users", { email: "refused@example.com", firstname: "Re", lastname: "Fused" })
    ).body;
    await drained(s.id);
    const failed = (await call("GET", `/api/v1/crm_syncs/${s.id}/logs?outcome=failed`)).body.data;
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      kind: "call",
      operation: "create",
      response: { status: 422 },
      attempt: 1,
      job_status: "failed",
      user_id: u.id,
    });
    expect(failed[0].response.body).toContain("email taken");
    expect(failed[0].duration_ms).toBeGreaterThanOrEqual(0);
    // The update has no id to address: not sent, and it says the create failed.
    await call("PATCH", `/api/v1/users/${u.id}`, { lastname: "Fixed" });
    await drained(s.id);
    const history = (await call("GET", `/api/v1/crm_syncs/${s.id}/users/${u.id}`)).body;
    expect(history.missing_id_reason).toContain("the create call failed");
    receiver.answer(createdAnswer(99));
    const retried = await call("POST", `/api/v1/crm_syncs/${s.id}/logs/${failed[0].job_id}/retry`);
    expect(retried.status).toBe(202);
    await drained(s.id);
    expect((await call("GET", `/api/v1/crm_syncs/${s.id}/users/${u.id}`)).body.external_id).toBe("99");
    expect((await call("POST", `/api/v1/crm_syncs/${s.id}/logs/${failed[0].job_id}/retry`)).status).toBe(409);
    await call("DELETE", `/api/v1/crm_syncs/${s.id}`);
  });

  test("basic auth: the receiver gets the credentials; the password is never shown or logged", async () => {
    const password = "s3cret-Pa55word-for-the-crm";
    const expected = `Basic ${btoa(`crm-user:${password}`)}`;
    const guarded = startReceiver((req) =>
      req.headers.authorization === expected
        ? { status: 201, body: '{"data":{"record":{"id":"b1"}}}' }
        : { status: 401 },
    );
    try {
      const res = await call(
        "POST",
        "/api/v1/crm_syncs",
        receiverSync(guarded.url, {
          auth: { type: "basic", username: "crm-user", password },
          create: { unique_id_path: "$.data.record.id" },
        }),
      );
      expect(res.status).toBe(201);
      expect(JSON.stringify(res.body)).not.toContain(password);
      expect(res.body.auth).toMatchObject({ type: "basic", username: "crm-user", secret_set: true });
      const u = (await call("POST", "/api/v1/users", { email: "basic@example.com", firstname: "Ba", lastname: "Sic" }))
        .body;
      await drained(res.body.id);
      expect(guarded.requests[0]!.headers.authorization).toBe(expected);
      expect((await call("GET", `/api/v1/crm_syncs/${res.body.id}/users/${u.id}`)).body.external_id).toBe("b1");
      const logs = await call("GET", `/api/v1/crm_syncs/${res.body.id}/logs`);
      expect(JSON.stringify(logs.body)).not.toContain(password);
      expect(JSON.stringify(logs.body)).not.toContain(expected.slice(6));
      // An update without the password keeps it.
      const renamed = await call("PATCH", `/api/v1/crm_syncs/${res.body.id}`, {
        name: "renamed",
        auth: { type: "basic", username: "crm-user" },
      });
      expect(renamed.status).toBe(200);
      await call("PATCH", `/api/v1/users/${u.id}`, { lastname: "Sick" });
      await drained(res.body.id);
      expect(guarded.requests.at(-1)!.headers.authorization).toBe(expected);
      expect(guarded.requests.at(-1)!.method).toBe("PUT");
      await call("DELETE", `/api/v1/crm_syncs/${res.body.id}`);
    } finally {
      await guarded.stop();
    }
  });

  test("TLS with a self-signed certificate: refused with verification on, accepted with it off", async () => {
    const tls = startReceiver(createdAnswer("t1"), selfSignedCert());
    try {
      const strict = (
        await call(
          "POST",
          "/api/v1/crm_syncs",
          receiverSync(tls.url, { name: "strict", create: { unique_id_path: "$.data.record.id", tls_verify: true } }),
        )
      ).body;
      const relaxed = (
        await call(
          "POST",
          "/api/v1/crm_syncs",
          receiverSync(tls.url, { name: "relaxed", create: { unique_id_path: "$.data.record.id", tls_verify: false } }),
        )
      ).body;
      const u = (await call("POST", "/api/v1/users", { email: "tls@example.com", firstname: "T", lastname: "LS" }))
        .body;
      await drained(relaxed.id);
      expect((await call("GET", `/api/v1/crm_syncs/${relaxed.id}/users/${u.id}`)).body.external_id).toBe("t1");
      expect(tls.requests.length).toBe(1);
      let strictLog: any[] = [];
      for (let i = 0; i < 200 && !strictLog.length; i++) {
        strictLog = (await call("GET", `/api/v1/crm_syncs/${strict.id}/logs?outcome=failed`)).body.data;
        if (!strictLog.length) await Bun.sleep(50);
      }
      expect(strictLog[0].error).toMatch(/^tls/);
      await call("DELETE", `/api/v1/crm_syncs/${strict.id}`);
      await call("DELETE", `/api/v1/crm_syncs/${relaxed.id}`);
    } finally {
      await tls.stop();
    }
  });

  test("a slow receiver hits the timeout, which is logged", async () => {
    const slow = startReceiver(() => ({ status: 201, body: "{}", delayMs: 4000 }));
    try {
      const s = (await call("POST", "/api/v1/crm_syncs", receiverSync(slow.url, { create: { timeout: 1 } }))).body;
      await call("POST", "/api/v1/users", { email: "slow@example.com", firstname: "Slow", lastname: "Poke" });
      let log: any[] = [];
      for (let i = 0; i < 400 && !log.length; i++) {
        log = (await call("GET", `/api/v1/crm_syncs/${s.id}/logs?outcome=failed`)).body.data;
        if (!log.length) await Bun.sleep(50);
      }
      expect(log[0].error).toMatch(/^timeout/);
      expect(log[0].job_status).toBe("pending");
      await call("DELETE", `/api/v1/crm_syncs/${s.id}`);
    } finally {
      await slow.stop();
    }
  });
});

describe("CRM sync settings", () => {
  test("an invalid template is refused with the field and position, and nothing is saved", async () => {
    const before = (await call("GET", "/api/v1/crm_syncs")).body.data.length;
    const bad = await call("POST", "/api/v1/crm_syncs", {
      name: "broken",
      create: {
        url: "http://127.0.0.1:9/people",
        data: '{\n  "name": "{{ person.name }}",\n  "email": {{ person.email }\n}',
      },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe("create.data");
    expect(bad.body.error.details[0].message).toMatch(/line \d+, column \d+/);
    const badJson = await call("POST", "/api/v1/crm_syncs", {
      name: "broken",
      create: { url: "http://127.0.0.1:9/people", data: '{"name": "{{ person.name }}",}' },
      update: { enabled: true, url: "" },
    });
    expect(badJson.status).toBe(422);
    const fields = badJson.body.error.details.map((d: any) => d.field);
    expect(fields).toContain("create.data");
    expect(fields).toContain("update.url");
    const badPath = await call("POST", "/api/v1/crm_syncs", {
      name: "x",
      create: { url: "http://127.0.0.1:9/p", unique_id_path: "id" },
    });
    expect(badPath.body.error.details[0].field).toBe("create.unique_id_path");
    const noPassword = await call("POST", "/api/v1/crm_syncs", {
      name: "x",
      auth: { type: "basic", username: "u" },
      create: { url: "http://127.0.0.1:9/p", unique_id_path: "$.id" },
    });
    expect(noPassword.body.error.details[0].field).toBe("auth.password");
    // An empty Unique ID Path is a choice made explicitly ("create only"), never by omission.
    const noPath = await call("POST", "/api/v1/crm_syncs", { name: "x", create: { url: "http://127.0.0.1:9/p" } });
    expect(noPath.status).toBe(422);
    expect(noPath.body.error.details).toEqual([
      { field: "create.unique_id_path", message: expect.stringContaining('tick "create only"') },
    ]);
    const both = await call("POST", "/api/v1/crm_syncs", {
      name: "x",
      create: { url: "http://127.0.0.1:9/p", unique_id_path: "$.id", create_only: true },
    });
    expect(both.body.error.details[0]).toMatchObject({ field: "create.unique_id_path" });
    expect((await call("GET", "/api/v1/crm_syncs")).body.data.length).toBe(before);
    const createOnly = await call("POST", "/api/v1/crm_syncs", {
      name: "creations only",
      create: { url: "http://127.0.0.1:9/p", create_only: true },
    });
    expect(createOnly.status).toBe(201);
    expect(createOnly.body.create).toMatchObject({ unique_id_path: "", create_only: true });
    await call("DELETE", `/api/v1/crm_syncs/${createOnly.body.id}`);
  });

  test("preview renders the templates for a chosen person", async () => {
    const u = (
      await call("POST", "/api/v1/users", { email: "preview@example.com", firstname: "Pre", lastname: 'View "Q"' })
    ).body;
    const res = await call("POST", "/api/v1/crm_syncs/preview", {
      user_id: u.id,
      name: "p",
      create: { url: "http://127.0.0.1:9/people?e={{person.email}}", data: '{"n": "{{person.name}}"}' },
    });
    expect(res.status).toBe(200);
    expect(res.body.errors).toEqual([]);
    expect(res.body.requests.create.url).toBe("http://127.0.0.1:9/people?e=preview%40example.com");
    expect(JSON.parse(res.body.requests.create.body)).toEqual({ n: 'Pre View "Q"' });
  });
});
