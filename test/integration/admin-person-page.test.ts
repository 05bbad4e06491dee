import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeEntities, pageText } from "../support/admin-seed";
import { makeCompany, makePerson } from "../support/fake-clearbit";
import { eventually, startEnrichmentRig, type EnrichmentRig } from "../support/enrichment";
import { type Browser, signIn } from "../support/server";

/**
 * Issue 14 item 14: a person's page shows details with an Edit action (not details and form at once), Clearbit's
 * answer in its own folded section by Heap's names, and a failed lookup says that it failed.
 */
let rig: EnrichmentRig;
let admin: Browser;

beforeAll(async () => {
  rig = await startEnrichmentRig();
  admin = await signIn(rig.api.server);
});
afterAll(() => rig.close());

const post = async (path: string, body: unknown) => (await rig.api.call("POST", `/api/v1${path}`, body)).body;

describe("a person's page", () => {
  test("shows details with an Edit action; …/edit shows the form instead, with a way back", async () => {
    const p = await post("/users", { email: "dana@example.org", firstname: "Dana", phone: "+1 555 0100" });
    const page = await pageText(admin, `/people/${p.id}`);
    expect(page).toContain(`<a class="btn btn-secondary" href="/people/${p.id}/edit">Edit</a>`);
    expect(page).toContain('<h2 id="details-h">Details</h2>');
    expect(page).not.toContain('id="record-form"');
    const edit = await pageText(admin, `/people/${p.id}/edit`);
    expect(edit).toContain('id="record-form"');
    expect(edit).toContain('value="+1 555 0100"');
    expect(edit).toContain(`<a class="btn btn-secondary" href="/people/${p.id}">Cancel</a>`);
    expect(edit).not.toContain('<h2 id="details-h">');
    // A save with errors keeps the form open; a good one goes back to the details.
    const bad = await admin.submit(`/people/${p.id}/edit`, `/people/${p.id}`, { email: "not-an-email" });
    expect(bad.status).toBe(422);
    expect(decodeEntities(await bad.text())).toContain('id="record-form"');
    const ok = await admin.submit(`/people/${p.id}/edit`, `/people/${p.id}`, {
      firstname: "Dana",
      email: "dana@example.org",
      phone: "+1 555 0199",
    });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe(`/people/${p.id}`);
  });

  test("the timeline names the organization and roles a change refers to, not their ids", async () => {
    await post("/organizations", { name: "Timeline Corp" });
    const p = await post("/users", { email: "tim@example.org", organization: "Timeline Corp" });
    const page = await pageText(admin, `/people/${p.id}`);
    const timeline = page.slice(page.indexOf('<ol class="timeline">'));
    expect(timeline).toContain('<span class="change-field">Organization</span> <ins>Timeline Corp</ins>');
    expect(timeline).toContain('<span class="change-field">Roles</span> <ins>Customer</ins>');
    expect(timeline).not.toMatch(/Organization id|Role ids/);
  });

  test("an organization's page works the same way", async () => {
    const o = await post("/organizations", { name: "Initech" });
    const page = await pageText(admin, `/organizations/${o.id}`);
    expect(page).toContain(`href="/organizations/${o.id}/edit">Edit</a>`);
    expect(page).not.toContain('id="record-form"');
    expect(await pageText(admin, `/organizations/${o.id}/edit`)).toContain('id="record-form"');
  });

  test("Clearbit's answer is its own folded section, by readable names, with the date last checked", async () => {
    rig.fake.set("erin@acme.com", {
      kind: "found",
      person: makePerson("erin@acme.com"),
      company: makeCompany("acme.com"),
    });
    const p = await post("/users", { email: "erin@acme.com" });
    await eventually(async () => (await rig.api.call("GET", `/api/v1/users/${p.id}`)).body.clearbit_date_last_checked);
    const page = await pageText(admin, `/people/${p.id}`);
    const section = page.slice(page.indexOf('<section class="card" id="enrichment"'));
    expect(section).toMatch(/<p id="enrichment-state" role="status" class="muted small">Clearbit: Date Last Checked: /);
    expect(section).toMatch(/<details class="enrichment-details">\s*<summary>Show \d+ enriched properties<\/summary>/);
    expect(section).toContain('<th scope="row" title="company.site.url">Company Website URL</th>');
    expect(section).toContain('<th scope="row" title="date_last_checked">Clearbit: Date Last Checked</th>');
    // In the main column, not the narrow sidebar.
    expect(page.indexOf('id="enrichment"')).toBeLessThan(page.indexOf('<div class="col-side">'));
  });

  test("a lookup under a bad key says that it failed, and why", async () => {
    const res = await rig.api.call("PUT", "/api/v1/integrations/clearbit", { api_key: "sk_wrong_key_0123456789" });
    expect(res.status).toBe(200);
    const p = await post("/users", { email: "frank@acme.com" });
    await eventually(async () => rig.fake.callsFor("frank@acme.com") > 0);
    const state = await eventually(async () => {
      const page = await pageText(admin, `/people/${p.id}`);
      const m = /<p id="enrichment-state" role="status" class="enrichment-failed">([^<]*)<\/p>/.exec(page);
      return m?.[1];
    });
    expect(state).toContain("Lookup failed: Unauthorized: auth_required: The API key is invalid.");
    expect(state).not.toContain("under way");
  });
});
