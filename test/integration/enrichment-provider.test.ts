import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { makeCompany, makePerson } from "../support/fake-clearbit";
import { eventually, startEnrichmentRig, type EnrichmentRig } from "../support/enrichment";

setDefaultTimeout(40_000);
let rig: EnrichmentRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const status = async (r: EnrichmentRig) => (await r.api.call("GET", "/api/v1/integrations/clearbit")).body.status;
const createUser = async (r: EnrichmentRig, body: Record<string, unknown>) =>
  (await r.api.call("POST", "/api/v1/users", body)).body;
const enrichedUser = (r: EnrichmentRig, id: number) =>
  eventually(async () => {
    const u = (await r.api.call("GET", `/api/v1/users/${id}`)).body;
    return u.clearbit_date_last_checked ? u : null;
  });

describe("pauses", () => {
  test("401: the integration shows Unauthorized and waits until the key changes", async () => {
    rig = await startEnrichmentRig({ api_key: "sk_wrong_key_000000000" });
    expect((await status(rig)).state).toBe("waiting");
    const user = await createUser(rig, { email: "u.one@acme.com" });
    await eventually(async () => ((await status(rig!)).state === "unauthorized" ? true : null));
    expect((await status(rig)).reason).toContain("auth_required");
    await Bun.sleep(300);
    expect(rig.fake.calls.length).toBe(1);
    await rig.api.call("PATCH", "/api/v1/integrations/clearbit", { api_key: rig.fake.key });
    const u = await enrichedUser(rig, user.id);
    expect(u.clearbit_company_name).toBe("Acme");
    expect((await status(rig)).state).toBe("connected");
  });

  test("402: paused and shown as over quota; saving the settings resumes", async () => {
    rig = await startEnrichmentRig();
    rig.fake.failAll(402);
    const user = await createUser(rig, { email: "q.uota@acme.com" });
    await eventually(async () => ((await status(rig!)).state === "error" ? true : null));
    expect((await status(rig)).reason).toContain("Over quota");
    rig.fake.failAll(null);
    await rig.api.call("PATCH", "/api/v1/integrations/clearbit", {});
    await enrichedUser(rig, user.id);
  });
});

describe("waiting on the provider", () => {
  test("429: waits for Retry-After, then succeeds; the rate-limit headers lower the pace", async () => {
    rig = await startEnrichmentRig();
    rig.fake.setRateLimit(1, 1000);
    const a = await createUser(rig, { email: "r.one@rate.com" });
    await enrichedUser(rig, a.id);
    const b = await createUser(rig, { email: "r.two@rate.com" });
    await Bun.sleep(200);
    rig.fake.setRateLimit(null);
    const u = await enrichedUser(rig, b.id);
    expect(u.clearbit_person_name_given_name).toBe("R");
  });

  test("202 without callbacks: asked again later (Retry-After honoured), then applied", async () => {
    rig = await startEnrichmentRig({ use_callbacks: false });
    rig.fake.set("p.oll@later.com", {
      kind: "queued",
      person: makePerson("p.oll@later.com"),
      company: makeCompany("later.com"),
      times: 1,
      retryAfterSeconds: 1,
    });
    const user = await createUser(rig, { email: "p.oll@later.com" });
    const u = await enrichedUser(rig, user.id);
    expect(u.clearbit_company_domain).toBe("later.com");
    expect(rig.fake.callsFor("p.oll@later.com")).toBe(2);
    expect(rig.fake.callbacks.length).toBe(0);
    expect(rig.fake.calls[0]!.status).toBe(202);
  });

  test("the streaming host blocks until ready: one call, no 202", async () => {
    rig = await startEnrichmentRig({ use_streaming: true });
    rig.fake.set("s.tream@now.com", { kind: "queued", person: makePerson("s.tream@now.com"), company: null, times: 5 });
    const user = await createUser(rig, { email: "s.tream@now.com" });
    // The answer has no company: the person's employer is then looked up by domain.
    const u = await eventually(async () => {
      const x = (await rig!.api.call("GET", `/api/v1/users/${user.id}`)).body;
      return x.clearbit_company_name ? x : null;
    });
    expect(u.clearbit_company_name).toBe("Now");
    expect(u.clearbit_person_name_given_name).toBe("S");
    expect(rig.fake.calls.map((c) => [c.path, c.status])).toEqual([
      ["/v2/combined/find", 200],
      ["/v2/companies/find", 200],
    ]);
  });
});

describe("organizations", () => {
  test("created when enabled (shared flag set), found by domain for the next colleague, fields merged", async () => {
    rig = await startEnrichmentRig({ create_organizations: true, organizations_shared: true });
    const a = await createUser(rig, { email: "ann.lee@globex.com" });
    const ua = await eventually(async () => {
      const x = (await rig!.api.call("GET", `/api/v1/users/${a.id}`)).body;
      return x.organization_id ? x : null;
    });
    const org = (await rig.api.call("GET", `/api/v1/organizations/${ua.organization_id}`)).body;
    expect(org).toMatchObject({ name: "Globex", domain: "globex.com", shared: true, note: "Globex makes software." });
    const prov = (await rig.api.call("GET", `/api/v1/organizations/${org.id}/provenance`)).body;
    expect(prov.name.source).toBe("enrichment:clearbit");
    const b = await createUser(rig, { email: "bo.kim@globex.com" });
    const ub = await eventually(async () => {
      const x = (await rig!.api.call("GET", `/api/v1/users/${b.id}`)).body;
      return x.organization_id ? x : null;
    });
    expect(ub.organization_id).toBe(org.id);
    expect((await rig.api.call("GET", "/api/v1/organizations?q=globex")).body.data.length).toBe(1);
  });

  test("not created by default, but an organization of the exact name is linked, its admin note kept", async () => {
    rig = await startEnrichmentRig();
    const org = (await rig.api.call("POST", "/api/v1/organizations", { name: "Initech", note: "Ours" })).body;
    const a = await createUser(rig, { email: "pe.ter@initech.com" });
    const ua = await eventually(async () => {
      const x = (await rig!.api.call("GET", `/api/v1/users/${a.id}`)).body;
      return x.organization_id ? x : null;
    });
    expect(ua.organization_id).toBe(org.id);
    const after = (await rig.api.call("GET", `/api/v1/organizations/${org.id}`)).body;
    expect(after).toMatchObject({ note: "Ours", domain: "initech.com" });
    const c = await createUser(rig, { email: "x.y@umbrella.com" });
    await enrichedUser(rig, c.id);
    expect((await rig.api.call("GET", `/api/v1/users/${c.id}`)).body.organization_id).toBeNull();
  });
});

describe("organizations follow the provider's own values (the merge rule, as for people)", () => {
  test("a provider-set field follows later answers; an admin's stays; the person moves with the company", async () => {
    rig = await startEnrichmentRig({ create_organizations: true });
    const api = rig.api;
    expect(
      (
        await api.call("POST", "/api/v1/custom_fields", {
          object_type: "organization",
          name: "industry",
          label: "Industry",
          type: "text",
        })
      ).status,
    ).toBe(201);
    const mappings = [
      ...(await api.call("GET", "/api/v1/integrations/clearbit")).body.organization_mappings,
      { source: "company.category.industry", target: "industry" },
    ];
    expect((await api.call("PATCH", "/api/v1/integrations/clearbit", { organization_mappings: mappings })).status).toBe(
      200,
    );
    const company = (industry: string, description: string) =>
      makeCompany("hooli.com", { category: { industry }, description });
    rig.fake.set("gavin@hooli.com", {
      kind: "found",
      person: makePerson("gavin@hooli.com"),
      company: company("Industry v1", "Hooli v1"),
    });
    const user = await createUser(rig, { email: "gavin@hooli.com" });
    const first = await eventually(
      async () => (await api.call("GET", `/api/v1/users/${user.id}`)).body.organization_id,
    );
    expect((await api.call("GET", `/api/v1/organizations/${first}`)).body).toMatchObject({
      name: "Hooli",
      industry: "Industry v1",
      note: "Hooli v1",
    });
    expect((await api.call("GET", `/api/v1/organizations/${first}/provenance`)).body.industry.source).toBe(
      "enrichment:clearbit",
    );
    await api.call("PATCH", `/api/v1/organizations/${first}`, { note: "Ours" });

    // The provider later says v2 (a new lookup: the person's email changed).
    rig.fake.set("gavin.b@hooli.com", {
      kind: "found",
      person: makePerson("gavin.b@hooli.com"),
      company: company("Industry v2", "Hooli v2"),
    });
    await api.call("PATCH", `/api/v1/users/${user.id}`, { email: "gavin.b@hooli.com" });
    const org = await eventually(
      async () => {
        const o = (await api.call("GET", `/api/v1/organizations/${first}`)).body;
        return o.industry === "Industry v2" ? o : null;
      },
      15_000,
      "the organization to follow the provider",
    );
    expect(org.note).toBe("Ours");

    // The company itself changes: the person the provider placed follows it to the new organization.
    rig.fake.set("gavin@piedpiper.com", {
      kind: "found",
      person: makePerson("gavin@piedpiper.com"),
      company: makeCompany("piedpiper.com"),
    });
    await api.call("PATCH", `/api/v1/users/${user.id}`, { email: "gavin@piedpiper.com" });
    const moved = await eventually(
      async () => {
        const u = (await api.call("GET", `/api/v1/users/${user.id}`)).body;
        return u.organization_id !== first ? u : null;
      },
      15_000,
      "the person to follow the company",
    );
    expect(moved.organization).toBe("Piedpiper");
  });

  test("an organization an admin gave the person is kept; none is made for a company it cannot be given", async () => {
    rig = await startEnrichmentRig({ create_organizations: true });
    const api = rig.api;
    const ours = (await api.call("POST", "/api/v1/organizations", { name: "Our Pick" })).body;
    const user = await createUser(rig, { email: "dinesh@vandelay.com", organization_id: ours.id });
    await enrichedUser(rig, user.id);
    expect((await api.call("GET", `/api/v1/users/${user.id}`)).body.organization_id).toBe(ours.id);
    expect((await api.call("GET", "/api/v1/organizations?q=vandelay")).body.data).toEqual([]);
  });
});

describe("backfill", () => {
  test("users seen in the window with an old or no check are looked up once; progress is reported", async () => {
    rig = await startEnrichmentRig({ enabled: false });
    const writeKey = (await rig.api.call("POST", "/api/v1/write_keys", { name: "w" })).body.key;
    const batch = Array.from({ length: 30 }, (_, i) => ({
      type: "identify",
      userId: `u${i}`,
      traits: { email: `b.user${i}@back.com` },
      timestamp: new Date(Date.now() - (i < 25 ? 86_400_000 : 10 * 86_400_000)).toISOString(),
    }));
    const res = await fetch(rig.api.server.url + "/v1/batch", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
      },
      body: JSON.stringify({ batch }),
    });
    expect(res.status).toBe(200);
    await rig.api.call("PATCH", "/api/v1/integrations/clearbit", { enabled: true });
    const started = await rig.api.call("POST", "/api/v1/integrations/clearbit/backfill");
    expect(started.status).toBe(202);
    const progress = await eventually(async () => {
      const p = (await rig!.api.call("GET", "/api/v1/integrations/clearbit/backfill")).body;
      return p?.finished ? p : null;
    }, 30_000);
    // 25 seen within the week, and the admin created just now; the 5 seen 10 days ago are left out.
    expect(progress).toMatchObject({ planned: 26, total: 26, done: 26, percent: 100 });
    expect(rig.fake.calls.length).toBe(26);
    expect(rig.fake.calls.some((c) => c.email === "b.user27@back.com")).toBe(false);
    await rig.api.call("POST", "/api/v1/integrations/clearbit/backfill");
    await Bun.sleep(300);
    expect((await rig.api.call("GET", "/api/v1/integrations/clearbit/backfill")).body.planned).toBe(0);
    expect(rig.fake.calls.length).toBe(26);
  });
});

describe("audiences", () => {
  test("membership is a boolean property on the user, kept current, firing user.updated when it flips", async () => {
    rig = await startEnrichmentRig();
    const bad = await rig.api.call("POST", "/api/v1/audiences", {
      name: "Email",
      conditions: [{ field: "x", op: "eq", value: 1 }],
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe("key");
    const none = await rig.api.call("POST", "/api/v1/audiences", { name: "x", conditions: [] });
    expect(none.body.error.details[0].field).toBe("conditions");
    const u = await createUser(rig, { email: "big.co@acme.com", traits: { plan: "pro" } });
    await enrichedUser(rig, u.id);
    const created = await rig.api.call("POST", "/api/v1/audiences", {
      name: "Big Pro Customers",
      conditions: [
        { field: "clearbit_company_metrics_employees", op: "gte", value: 100 },
        { field: "traits.plan", op: "eq", value: "pro" },
      ],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ key: "big_pro_customers", member_count: 1 });
    expect((await rig.api.call("GET", `/api/v1/users/${u.id}`)).body.big_pro_customers).toBe(true);
    await rig.api.call("PATCH", `/api/v1/users/${u.id}`, { traits: { plan: "free" } });
    const after = (await rig.api.call("GET", `/api/v1/users/${u.id}`)).body;
    expect(after.big_pro_customers).toBe(false);
    const events = (await rig.api.call("GET", `/api/v1/users/${u.id}/events`)).body.data;
    expect(events[0]).toMatchObject({
      type: "user.updated",
      source: "system",
      changes: { big_pro_customers: [true, false] },
    });
    const recent = await rig.api.call("POST", "/api/v1/audiences", {
      name: "Order completed last 30 days",
      conditions: [{ field: "traits.last_order_at", op: "within_last_days", value: 30 }],
    });
    expect(recent.body.key).toBe("order_completed_last_30days");
    await rig.api.call("PATCH", `/api/v1/users/${u.id}`, {
      traits: { plan: "free", last_order_at: new Date().toISOString() },
    });
    expect((await rig.api.call("GET", `/api/v1/users/${u.id}`)).body.order_completed_last_30days).toBe(true);
    expect((await rig.api.call("DELETE", `/api/v1/audiences/${recent.body.id}`)).status).toBe(204);
    expect((await rig.api.call("GET", `/api/v1/users/${u.id}`)).body.order_completed_last_30days).toBeUndefined();
  });
});

describe("callbacks only when the provider can reach us", () => {
  const queued = (email: string) => ({
    kind: "queued" as const,
    person: makePerson(email),
    company: makeCompany("later.com"),
    times: 1,
    retryAfterSeconds: 1,
    callbackAfterMs: 50,
  });

  test("without a base URL (or with a loopback one) queued lookups are polled, and the settings say so", async () => {
    rig = await startEnrichmentRig();
    rig.fake.set("no.base@later.com", queued("no.base@later.com"));
    const u = await enrichedUser(rig, (await createUser(rig, { email: "no.base@later.com" })).id);
    expect(u.clearbit_company_domain).toBe("later.com");
    expect(rig.fake.callsFor("no.base@later.com")).toBe(2);
    expect(rig.fake.callbacks.length).toBe(0);
    const settings = (await rig.api.call("GET", "/api/v1/integrations/clearbit")).body;
    expect(settings.results).toMatchObject({ mode: "polling", callback_url: null });
    expect(settings.results.reason).toContain("no base URL");
    const { signIn } = await import("../support/server");
    const page = await (await (await signIn(rig.api.server)).get("/integrations/clearbit")).text();
    expect(page).toContain("Queued lookups: <strong>polling</strong>");
    await rig.close();
    rig = await startEnrichmentRig({}, { baseUrl: "http://localhost:8080" });
    expect((await rig.api.call("GET", "/api/v1/integrations/clearbit")).body.results.reason).toContain("loopback");
  });

  test("with a public base URL the provider gets a callback URL; its signed callback applies the answer", async () => {
    rig = await startEnrichmentRig({}, { baseUrl: "https://switchboard.example.com" });
    expect((await rig.api.call("GET", "/api/v1/integrations/clearbit")).body.results).toMatchObject({
      mode: "callbacks",
      callback_url: "https://switchboard.example.com/v1/callbacks/clearbit",
    });
    rig.fake.set("pub.lic@later.com", { ...queued("pub.lic@later.com"), retryAfterSeconds: 60 });
    const u = await enrichedUser(rig, (await createUser(rig, { email: "pub.lic@later.com" })).id);
    expect(u.clearbit_company_domain).toBe("later.com");
    expect(rig.fake.callbacks).toEqual([{ url: "https://switchboard.example.com/v1/callbacks/clearbit", status: 200 }]);
    expect(rig.fake.callsFor("pub.lic@later.com")).toBe(1);
  });

  test("a signed callback whose body is null or an array is refused with 422, not a crash", async () => {
    rig = await startEnrichmentRig();
    const { createHmac } = await import("node:crypto");
    for (const body of ["null", "[]", '"x"']) {
      const signature = "sha1=" + createHmac("sha1", rig.fake.key.replace(/^sk_/, "")).update(body).digest("hex");
      const res = await fetch(rig.api.server.url + "/v1/callbacks/clearbit", {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-signature": signature },
        body,
      });
      expect(res.status).toBe(422);
      expect((await res.json()).error.details[0].field).toBe("body");
    }
  });
});
