import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";
import { startJsonServer, type JsonServer } from "../support/json-server";
import { eventually, selfSignedCert, startReceiver, type Receiver } from "../support/receiver";

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
    create: { unique_id_path: "$.id", method: "POST", url: `${crm.url}/people`, data: DATA, headers: '{"X-Source": "switchboard"}' },
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
        const u = await call("POST", "/api/v1/users", { email: `${name.toLowerCase()}@example.com`, firstname: name, lastname: `L${i}`, organization_id: org.body.id, traits: { whatsapp: `+1-${i}` } });
        expect(u.status).toBe(201);
        ids.push(u.body.id);
      }
      // Several quick updates; then a delete; then another person.
      await call("PATCH", `/api/v1/users/${ids[0]}`, { lastname: "Lovelace" });
      await call("PATCH", `/api/v1/users/${ids[0]}`, { firstname: "Augusta Ada" });
      await call("PATCH", `/api/v1/users/${ids[1]}`, { lastname: "Hopper" });
      await call("DELETE", `/api/v1/users/${ids[2]}`);
      const late = await call("POST", "/api/v1/users", { email: "ken@example.com", firstname: "Ken", lastname: "Thompson" });
      await drained(syncId);
      await call("PATCH", `/api/v1/users/${late.body.id}`, { lastname: "Thompson Jr." });
      const state = await drained(syncId);
      expect(state.state.people.with_crm_id).toBe(3);

      const ours = (await call("GET", "/api/v1/users?limit=100")).body.data.filter((u: any) => u.email !== "admin@example.com");
      const theirs = await crm.get("/people");
      const pick = (u: any) => ({ sb_id: u.id, first_name: u.firstname, last_name: u.lastname, email: u.email, organizations: u.organization ?? "" });
      expect(theirs.map((p: any) => ({ sb_id: p.sb_id, first_name: p.first_name, last_name: p.last_name, email: p.email, organizations: p.organizations })).sort((a: any, b: any) => a.sb_id - b.sb_id)).toEqual(
        ours.map(pick).sort((a: any, b: any) => a.sb_id - b.sb_id),
      );
      expect(theirs.find((p: any) => p.sb_id === ids[0]).whatsapp).toBe("+1-0");
      expect(theirs.find((p: any) => p.sb_id === ids[0]).name).toBe("Augusta Ada Lovelace");

      // Every call is in the log with request and response; per-user history lists only that person.
      const log = (await call("GET", `/api/v1/crm_syncs/${syncId}/logs?limit=200`)).body.data;
      expect(log.some((e: any) => e.kind === "call" && e.operation === "delete" && e.status === 200 && e.user_id === ids[2])).toBe(true);
      const history = (await call("GET", `/api/v1/crm_syncs/${syncId}/users/${ids[0]}`)).body;
      expect(history.external_id).toBeTruthy();
      const ops = history.log.data.filter((e: any) => e.kind === "call").map((e: any) => e.operation).reverse();
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
      const u = await call("POST", "/api/v1/users", { email: "existing@example.com", firstname: "Old", lastname: "Timer" });
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
