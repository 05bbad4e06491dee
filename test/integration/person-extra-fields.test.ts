import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, startEnrichmentRig, type EnrichmentRig } from "../support/enrichment";
import { startReceiver, type Receiver } from "../support/receiver";

/** A person's extra fields (enrichment's clearbit_ traits) reach the API, webhook payloads and CRM templates alike. */
let rig: EnrichmentRig;
let receiver: Receiver;
beforeAll(async () => {
  rig = await startEnrichmentRig();
  receiver = startReceiver((req) => ({
    status: req.path === "/crm/people" ? 201 : 200,
    body: req.path === "/crm/people" ? '{"id":"crm-1"}' : "ok",
  }));
});
afterAll(async () => {
  await rig.close();
  await receiver.stop();
});

const call = (m: string, p: string, b?: unknown) => rig.api.call(m, p, b);

describe("one source of a person's extra fields", () => {
  test("an enriched person's clearbit_ traits are in the API, a webhook payload and a CRM call body", async () => {
    const user = (await call("POST", "/api/v1/users", { email: "alex.smith@acme.com" })).body;
    const enriched = await eventually(
      async () => {
        const u = (await call("GET", `/api/v1/users/${user.id}`)).body;
        return u.clearbit_company_name ? u : null;
      },
      15_000,
      "enrichment",
    );
    expect(enriched.clearbit_company_name).toBe("Acme");

    const data =
      '{"company": "{{ person.clearbit_company_name }}", "title": "{{ person.clearbit_person_employment_title }}"}';
    const sync = await call("POST", "/api/v1/crm_syncs", {
      name: "CRM",
      create: { unique_id_path: "$.id", method: "POST", url: `${receiver.url}/crm/people`, data },
      update: { enabled: false },
      delete: { enabled: false },
      filter: { role: "Customer" },
    });
    expect(sync.status).toBe(201);
    const preview = await call("POST", `/api/v1/crm_syncs/${sync.body.id}/preview`, { user_id: user.id });
    expect(preview.status).toBe(200);
    expect(JSON.stringify(preview.body)).toContain("Head of Growth");
    await call("POST", `/api/v1/crm_syncs/${sync.body.id}/sync_all`);
    const crmCall = await eventually(
      async () => receiver.requests.find((r) => r.path === "/crm/people"),
      15_000,
      "the CRM create call",
    );
    expect(JSON.parse(crmCall.body)).toEqual({ company: "Acme", title: "Head of Growth" });

    const hook = (await call("POST", "/api/v1/webhooks", { name: "people", url: `${receiver.url}/hook` })).body;
    expect(
      (
        await call("POST", "/api/v1/triggers", {
          name: "people changed",
          events: ["user.updated"],
          webhook_ids: [hook.id],
        })
      ).status,
    ).toBe(201);
    await call("PATCH", `/api/v1/users/${user.id}`, { phone: "+1 555 0100" });
    const delivered = await eventually(
      async () => receiver.requests.find((r) => r.path === "/hook"),
      15_000,
      "the webhook",
    );
    const payload = JSON.parse(delivered.body);
    expect(payload.user.clearbit_company_name).toBe("Acme");
    expect(payload.user.clearbit_person_employment_title).toBe("Head of Growth");
  });
});
