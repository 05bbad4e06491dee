import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";
import { startReceiver, type Receiver } from "../support/receiver";

/**
 * The event catalogue (GET /api/v1/event-types), the refusal of condition fields no payload has, and
 * the trigger preview (POST /api/v1/triggers/preview), through the real server and the real matcher.
 */
let api: Api;
let receiver: Receiver;

/** Every dotted path of a payload, as the catalogue lists them (lists whole, open objects not walked). */
function paths(data: unknown, prefix = ""): string[] {
  if (!data || typeof data !== "object" || Array.isArray(data)) return [];
  return Object.entries(data).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v))
      return k === "traits" || k === "changes" ? [] : [...("name" in v ? [path] : []), ...paths(v, path)];
    return [path];
  });
}

beforeAll(async () => {
  receiver = startReceiver();
  api = await startApi();
});
afterAll(async () => {
  await api?.server.close();
  await receiver?.stop();
});

describe("event catalogue", () => {
  test("lists every event type with a description, an example payload, its fields and tokens", async () => {
    const res = await api.call("GET", "/api/v1/event-types");
    expect(res.status).toBe(200);
    const types = res.body.data.map((e: { type: string }) => e.type);
    expect(types).toContain("ticket.created");
    expect(types).toContain("user.enriched");
    expect(types).toContain("group.deleted");
    expect(types).toHaveLength(14);
    for (const e of res.body.data) {
      expect(e.description.length).toBeGreaterThan(10);
      expect(e.example.event.type).toBe(e.type);
      expect(e.fields.length).toBeGreaterThan(3);
    }
    const ticket = res.body.data.find((e: { type: string }) => e.type === "ticket.created");
    // Built from sample records by the payload builder: relations embedded, the first article with a link.
    expect(ticket.example.ticket.title).toBe('Webhook "test" \\ ünïcödé\nsecond line');
    expect(ticket.example.ticket.state).toEqual({ id: 1, name: "new", active: true });
    expect(ticket.example.ticket.customer.email).toBe("emily@example.com");
    expect(ticket.example.ticket.organization.name).toBe('Awesome "Customer" Inc.');
    expect(ticket.example.ticket.group.name).toBe("Service Desk");
    expect(ticket.example.article.attachments[0].url).toMatch(/\/api\/v1\/attachments\/\d+$/);
    const field = (path: string) => ticket.fields.find((f: { path: string }) => f.path === path);
    expect(field("ticket.state")).toMatchObject({ type: "named", choices: "states", example: "new" });
    expect(field("ticket.priority.name")).toMatchObject({ type: "text", choices: "priorities" });
    expect(field("ticket.customer.vip")).toMatchObject({ type: "boolean", choices: "boolean" });
    expect(field("ticket.customer.roles")).toMatchObject({ type: "list", choices: "roles" });
    expect(field("ticket.created_at")).toMatchObject({ type: "time" });
    // A token renders a value: ticket.state.name is one, the state object is not.
    expect(ticket.tokens).toContain("ticket.state.name");
    expect(ticket.tokens).toContain("trigger.name");
    expect(ticket.tokens).not.toContain("ticket.state");
  });

  test("the example has the fields of a real delivery of the same event", async () => {
    const hook = await api.call("POST", "/api/v1/webhooks", { name: "catalogue", url: receiver.url + "/org" });
    const trigger = await api.call("POST", "/api/v1/triggers", {
      name: "all organizations",
      events: ["organization.created"],
      webhook_ids: [hook.body.id],
    });
    expect(trigger.status).toBe(201);
    await api.call("POST", "/api/v1/organizations", { name: "Delivered Inc." });
    const [delivery] = await receiver.waitFor(1);
    const catalogue = await api.call("GET", "/api/v1/event-types");
    const entry = catalogue.body.data.find((e: { type: string }) => e.type === "organization.created");
    expect(entry.fields.map((f: { path: string }) => f.path).sort()).toEqual(paths(JSON.parse(delivery!.body)).sort());
    await api.call("DELETE", `/api/v1/triggers/${trigger.body.id}`);
  });

  test("custom fields of the instance appear in the catalogue", async () => {
    const created = await api.call("POST", "/api/v1/custom_fields", {
      object_type: "user",
      name: "plan",
      label: "Plan",
      type: "text",
    });
    expect(created.status).toBe(201);
    const res = await api.call("GET", "/api/v1/event-types");
    const user = res.body.data.find((e: { type: string }) => e.type === "user.updated");
    expect(user.fields.map((f: { path: string }) => f.path)).toContain("user.plan");
    expect(user.tokens).toContain("user.plan");
  });

  test("the API describes both new endpoints", async () => {
    const doc = await (await fetch(api.server.url + "/api/v1/openapi.json")).json();
    expect(doc.paths["/api/v1/event-types"].get.summary).toContain("catalogue");
    expect(doc.paths["/api/v1/triggers/preview"].post.requestBody).toBeDefined();
  });
});

describe("unknown condition fields", () => {
  let hookId: number;
  beforeAll(async () => {
    hookId = (await api.call("POST", "/api/v1/webhooks", { name: "fields", url: receiver.url + "/fields" })).body.id;
  });

  test("a typo is refused with a message naming it; a real field, a custom field and a trait are saved", async () => {
    const make = (field: string) =>
      api.call("POST", "/api/v1/triggers", {
        name: `on ${field}`,
        events: ["user.updated"],
        conditions: [
          { field: "user.vip", operator: "is", value: "true" },
          { field, operator: "is", value: "x" },
        ],
        webhook_ids: [hookId],
      });
    const typo = await make("user.emial");
    expect(typo.status).toBe(422);
    expect(typo.body.error.details).toEqual([
      { field: "conditions.1.field", message: "unknown field user.emial: no user.updated payload has it" },
    ]);
    for (const field of ["user.email", "user.plan", "user.traits.company_size", "event.changes.email"])
      expect((await make(field)).status).toBe(201);
  });

  test("a field of another event is refused, and so is a change of events that leaves a field behind", async () => {
    const org = await api.call("POST", "/api/v1/triggers", {
      name: "ticket field on organizations",
      events: ["organization.created"],
      conditions: [{ field: "ticket.title", operator: "contains", value: "x" }],
      webhook_ids: [hookId],
    });
    expect(org.status).toBe(422);
    expect(org.body.error.message).toContain("unknown field ticket.title");
    const ok = await api.call("POST", "/api/v1/triggers", {
      name: "ticket title",
      events: ["ticket.created"],
      conditions: [{ field: "ticket.title", operator: "contains", value: "x" }],
      webhook_ids: [hookId],
    });
    expect(ok.status).toBe(201);
    const moved = await api.call("PATCH", `/api/v1/triggers/${ok.body.id}`, { events: ["user.created"] });
    expect(moved.status).toBe(422);
    expect(moved.body.error.details[0].field).toBe("conditions.0.field");
    const typo = await api.call("PUT", `/api/v1/triggers/${ok.body.id}`, {
      conditions: [{ field: "ticket.titel", operator: "contains", value: "x" }],
    });
    expect(typo.status).toBe(422);
    expect(typo.body.error.message).toContain("ticket.titel");
  });
});

describe("trigger preview", () => {
  test("says how many of the last events the unsaved conditions match, with the real condition code", async () => {
    for (const name of ["Acme One", "Acme Two", "Zenith"])
      expect((await api.call("POST", "/api/v1/organizations", { name })).status).toBe(201);
    const preview = (conditions: unknown[], match = "all") =>
      api.call("POST", "/api/v1/triggers/preview", { events: ["organization.created"], match, conditions });
    const all = await preview([]);
    expect(all.status).toBe(200);
    const acme = await preview([{ field: "organization.name", operator: "starts_with", value: "ACME" }]);
    expect(acme.status).toBe(200);
    expect(acme.body.considered).toBe(all.body.considered);
    expect(acme.body.matched).toBe(2);
    expect(acme.body.examples.map((e: { type: string }) => e.type)).toEqual([
      "organization.created",
      "organization.created",
    ]);
    const either = await preview(
      [
        { field: "organization.name", operator: "is", value: "zenith" },
        { field: "organization.name", operator: "contains", value: "two" },
      ],
      "any",
    );
    expect(either.body.matched).toBe(2);
    const typo = await preview([{ field: "organization.nmae", operator: "is", value: "x" }]);
    expect(typo.status).toBe(422);
    expect(typo.body.error.message).toContain("organization.nmae");
    const noEvents = await api.call("POST", "/api/v1/triggers/preview", { events: [] });
    expect(noEvents.status).toBe(422);
    expect(noEvents.body.error.details[0].field).toBe("events");
  });
});
