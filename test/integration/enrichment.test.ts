import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { makeCompany, makePerson } from "../support/fake-clearbit";
import { eventually, startEnrichmentRig, type EnrichmentRig } from "../support/enrichment";
import { rowsOf } from "../support/store";

let rig: EnrichmentRig;
beforeAll(async () => {
  // A public base URL: the provider is asked for callbacks (a loopback one would mean polling).
  rig = await startEnrichmentRig({}, { baseUrl: "https://switchboard.example.com" });
});
afterAll(() => rig.close());

const call = (m: string, p: string, b?: unknown) => rig.api.call(m, p, b);
const enrichment = async (id: number) => (await call("GET", `/api/v1/users/${id}/enrichment`)).body;
const enriched = (id: number) =>
  eventually(async () => ((await enrichment(id)).checked_at ? enrichment(id) : null), 15_000, `user ${id} enriched`);

describe("settings", () => {
  test("the key must start with sk_, is stored encrypted, and only shown masked", async () => {
    const bad = await call("PATCH", "/api/v1/integrations/clearbit", { api_key: "pk_public_key_123456" });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe("api_key");
    // A key that does start with sk_ is told what is wrong with it, not that it must start with sk_.
    const short = await call("PATCH", "/api/v1/integrations/clearbit", { api_key: "sk_bad" });
    expect(short.status).toBe(422);
    expect(short.body.error.details).toEqual([
      { field: "api_key", message: "must be sk_ followed by 8 to 200 letters, digits, - or _" },
    ]);
    const bads = await call("PATCH", "/api/v1/integrations/clearbit", {
      rate_limit_per_minute: 0,
      person_url: "ftp://x",
      user_mappings: [{ source: "person.bio", target: "password" }],
    });
    expect(bads.status).toBe(422);
    expect(bads.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual([
      "person_url",
      "rate_limit_per_minute",
    ]);
    const badTarget = await call("PATCH", "/api/v1/integrations/clearbit", {
      user_mappings: [{ source: "person.bio", target: "password" }],
    });
    expect(badTarget.body.error.details[0].field).toBe("user_mappings.0.target");
    const got = (await call("GET", "/api/v1/integrations/clearbit")).body;
    expect(got.api_key).toMatch(/^•+/);
    expect(JSON.stringify(got)).not.toContain(rig.fake.key);
    expect(got).toMatchObject({
      enabled: true,
      api_key_set: true,
      refresh_interval_hours: 24,
      backfill_window_days: 7,
      rate_limit_per_minute: 600,
      create_organizations: false,
    });
    expect(got.user_mappings).toContainEqual({ source: "person.bio", target: "note" });
    const raw = (
      await rowsOf<{ value: string }>(
        rig.api.server.ctx.db,
        "SELECT value FROM settings WHERE key = 'integration.clearbit'",
      )
    )[0]!.value;
    expect(raw).not.toContain(rig.fake.key);
    expect(raw).not.toContain(rig.fake.key.slice(3));
  });
});

describe("enriching people", () => {
  test("a new person with an email is enriched: empty fields filled, others kept, traits, events saved", async () => {
    const user = (await call("POST", "/api/v1/users", { email: "alex.smith@acme.com", lastname: "X" })).body;
    const e = await enriched(user.id);
    expect(e.person.name.givenName).toBe("Alex");
    expect(e.company.name).toBe("Acme");
    const u = (await call("GET", `/api/v1/users/${user.id}`)).body;
    expect(u).toMatchObject({
      firstname: "Alex",
      lastname: "X",
      note: "Alex builds things.",
      web: "https://alex.example.org",
      address: "San Francisco, CA, US",
      image: "https://avatars.example.org/alex.smith.png",
    });
    expect(u.clearbit_company_name).toBe("Acme");
    expect(u.clearbit_person_employment_title).toBe("Head of Growth");
    expect(u.clearbit_company_metrics_employees_range).toBe("251-1K");
    expect(u.clearbit_date_last_checked).toBe(e.checked_at);
    expect(u.organization_id).toBeNull(); // creating organizations is off by default, and no Acme exists
    const prov = (await call("GET", `/api/v1/users/${user.id}/provenance`)).body;
    expect(prov.firstname.source).toBe("enrichment:clearbit");
    expect(prov.lastname.source).toBe("api");
    const events = (await call("GET", `/api/v1/users/${user.id}/events`)).body.data;
    expect(events.map((x: { type: string }) => x.type)).toEqual(
      expect.arrayContaining(["user.enriched", "user.updated", "user.created"]),
    );
    const ev = events.find((x: { type: string }) => x.type === "user.enriched");
    expect(ev.source).toBe("enrichment:clearbit");
    expect(ev.changes.clearbit_company_name).toEqual([null, "Acme"]);
    expect(rig.fake.callsFor("alex.smith@acme.com")).toBe(1);
    expect(rig.fake.calls.find((c) => c.email === "alex.smith@acme.com")!.auth).toBe(`Bearer ${rig.fake.key}`);
  });

  test("one email never costs two calls in the refresh interval; enrich now applies the cached answer", async () => {
    const user = (await call("POST", "/api/v1/users", { email: "bo.lee@cache.com" })).body;
    await enriched(user.id);
    const again = await call("POST", `/api/v1/users/${user.id}/enrich`);
    expect(again.body.result).toBe("cached");
    await call("PATCH", `/api/v1/users/${user.id}`, { firstname: "Bob" });
    await Bun.sleep(300);
    expect(rig.fake.callsFor("bo.lee@cache.com")).toBe(1);
  });

  test("an unknown email (404) is remembered and not asked again", async () => {
    rig.fake.set("nobody@void.com", { kind: "unknown" });
    const user = (await call("POST", "/api/v1/users", { email: "nobody@void.com" })).body;
    const e = await enriched(user.id);
    expect(e.person).toBeNull();
    expect(e.lookup.status).toBe("unknown");
    expect(Date.parse(e.lookup.unknown_until) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect((await call("POST", `/api/v1/users/${user.id}/enrich`)).body.result).toBe("unknown");
    await Bun.sleep(200);
    expect(rig.fake.callsFor("nobody@void.com")).toBe(1);
  });

  test("an email change looks up the new address; the provider's value is updated, another source's kept", async () => {
    rig.fake.set("c.one@first.com", {
      kind: "found",
      person: makePerson("c.one@first.com", { bio: "First bio", site: "https://one.example" }),
      company: null,
    });
    const user = (await call("POST", "/api/v1/users", { email: "c.one@first.com" })).body;
    await enriched(user.id);
    await call("PATCH", `/api/v1/users/${user.id}`, { web: "https://mine.example" });
    rig.fake.set("c.two@second.com", {
      kind: "found",
      person: makePerson("c.two@second.com", { bio: "Second bio", site: "https://two.example" }),
      company: null,
    });
    await call("PATCH", `/api/v1/users/${user.id}`, { email: "c.two@second.com" });
    const u = await eventually(async () => {
      const x = (await call("GET", `/api/v1/users/${user.id}`)).body;
      return x.note === "Second bio" ? x : null;
    });
    expect(u.web).toBe("https://mine.example");
    expect(u.firstname).toBe("C");
  });

  test("identify calls with an email are enriched and carry the clearbit_ traits", async () => {
    const writeKey = (await call("POST", "/api/v1/write_keys", { name: "site" })).body.key;
    const res = await fetch(rig.api.server.url + "/v1/identify", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
      },
      body: JSON.stringify({ userId: "pixar123", traits: { email: "carl.fredricksen@pixar.com" } }),
    });
    expect(res.status).toBe(200);
    const u = await eventually(async () => {
      const x = (await call("GET", "/api/v1/users?email=carl.fredricksen@pixar.com")).body.data[0];
      return x?.clearbit_company_name ? x : null;
    });
    expect(u.clearbit_company_name).toBe("Pixar");
    expect(u.clearbit_person_name_given_name).toBe("Carl");
  });
});

describe("provider answers", () => {
  test("202 queued, then the signed callback applies the result; a bad signature is refused", async () => {
    rig.fake.set("q.ueued@later.com", {
      kind: "queued",
      person: makePerson("q.ueued@later.com"),
      company: makeCompany("later.com"),
      callbackAfterMs: 100,
    });
    const user = (await call("POST", "/api/v1/users", { email: "q.ueued@later.com" })).body;
    const e = await enriched(user.id);
    expect(e.company.domain).toBe("later.com");
    expect(rig.fake.callbacks[0]?.status).toBe(200);
    expect(rig.fake.callsFor("q.ueued@later.com")).toBe(1);
    const body = JSON.stringify({
      id: "q.ueued@later.com",
      type: "person_company",
      status: 200,
      body: { person: null, company: null },
    });
    const forged = await fetch(rig.api.server.url + "/v1/callbacks/clearbit", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-request-signature": "sha1=" + createHmac("sha1", "wrong").update(body).digest("hex"),
      },
      body,
    });
    expect(forged.status).toBe(401);
    const unsigned = await fetch(rig.api.server.url + "/v1/callbacks/clearbit", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(unsigned.status).toBe(401);
  });

  test("422 fails the job and records the email as invalid; 5xx is retried", async () => {
    rig.fake.set("bad@invalid.com", {
      kind: "status",
      status: 422,
      type: "params_invalid",
      message: "email is invalid",
    });
    const user = (await call("POST", "/api/v1/users", { email: "bad@invalid.com" })).body;
    const e = await eventually(async () =>
      (await enrichment(user.id)).lookup?.status === "invalid" ? enrichment(user.id) : null,
    );
    expect(e.lookup.error).toContain("params_invalid");
    expect((await call("POST", `/api/v1/users/${user.id}/enrich`)).body.result).toBe("invalid");
  });

  test("the integration log shows requests and responses with the key redacted", async () => {
    const log = (await call("GET", "/api/v1/integrations/clearbit/log")).body.data;
    expect(log.length).toBeGreaterThan(0);
    expect(JSON.stringify(log)).not.toContain(rig.fake.key);
    expect(JSON.stringify(log)).not.toContain(rig.fake.key.slice(3));
    expect(log[0].request.url).toContain("/v2/combined/find?email=");
    expect(log.some((l: { response: { status: number } | null }) => l.response?.status === 404)).toBe(true);
  });
});
