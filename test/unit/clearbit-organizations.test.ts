import { describe, expect, test } from "bun:test";
import { asc } from "drizzle-orm";
import { organizations } from "../../src/db/schema";
import { createOrganization } from "../../src/domain/organizations";
import { createUser, getUserRow, updateUser } from "../../src/domain/users";
import { DeliveryEngine } from "../../src/delivery/engine";
import { ClearbitEnrichment, SOURCE } from "../../src/enrichment/clearbit";
import type { Answer } from "../../src/enrichment/mappings";
import { EventFeed, type Actor } from "../../src/events/feed";
import type { Core } from "../../src/core";
import { createLogger } from "../../src/log";
import { rowsOf } from "../support/store";
import { unitDb, people } from "../support/unit-db";

const api: Actor = { id: null, source: "api" };
const admin: Actor = { id: null, source: "ui" };

/** The service on a real database, event feed and (idle) delivery engine: the parts merging uses. */
async function fixture(settings: { create_organizations?: boolean; organizations_shared?: boolean } = {}) {
  const db = await unitDb();
  const events = new EventFeed(db);
  const delivery = new DeliveryEngine(
    db,
    createLogger("error", () => {}),
  );
  const clearbit = new ClearbitEnrichment({ db, events, delivery } as Pick<Core, "db" | "events" | "delivery"> as Core);
  await clearbit.save({ create_organizations: false, organizations_shared: false, ...settings });
  const user = async (email: string, extra: Record<string, unknown> = {}) =>
    (await createUser(people(db, events), { email, ...extra }, api)).id;
  const org = async (input: Record<string, unknown>, actor = api) =>
    (await createOrganization(db, events, input, actor)).id;
  const answer = (
    email: string,
    company: Record<string, unknown> | null,
    person: Record<string, unknown> | null = null,
  ) => db.transaction(async (tx) => clearbit.applyLookupResult(tx, email, { person, company } as Answer));
  const orgOf = async (userId: number) => (await getUserRow(db, userId)).organizationId;
  const orgs = () => db.select().from(organizations).orderBy(asc(organizations.id));
  return { db, events, clearbit, user, org, answer, orgOf, orgs };
}

describe("clearbit: the company's organization", () => {
  test("found by domain first (whatever its name), and the person placed in it", async () => {
    const { user, org, answer, orgOf, orgs } = await fixture({ create_organizations: true });
    await org({ name: "Acme Corp" });
    const byDomain = await org({ name: "ACME (EU)", domain: "acme.com" });
    const id = await user("ada@acme.com");
    await answer("ada@acme.com", { name: "Acme Corp", domain: "ACME.com" });
    expect(await orgOf(id)).toBe(byDomain);
    expect(await orgs()).toHaveLength(2);
    expect((await orgs()).find((o) => o.id === byDomain)!.name).toBe("ACME (EU)"); // another source's name is kept
  });

  test("else found by name, ignoring case", async () => {
    const { user, org, answer, orgOf, orgs } = await fixture({ create_organizations: true });
    const acme = await org({ name: "Acme Corp" });
    const id = await user("ada@acme.com");
    await answer("ada@acme.com", { name: "acme corp", domain: "acme.io", description: "Rockets" });
    expect(await orgOf(id)).toBe(acme);
    // Empty fields are filled under the merge rule, with the provider as their writer.
    expect((await orgs())[0]).toMatchObject({ name: "Acme Corp", domain: "acme.io", note: "Rockets" });
    expect((await orgs())[0]!.provenance.domain?.source).toBe(SOURCE);
  });

  test("else created when the setting allows it (shared as configured), with the provider as writer", async () => {
    const { user, answer, orgOf, orgs } = await fixture({ create_organizations: true, organizations_shared: true });
    const id = await user("ada@acme.com");
    await answer("ada@acme.com", { name: "Acme", legalName: "Acme Holdings Ltd", domain: "acme.com" });
    const [created] = await orgs();
    expect(created).toMatchObject({ name: "Acme", domain: "acme.com", shared: true });
    expect(created!.provenance.name?.source).toBe(SOURCE);
    expect(await orgOf(id)).toBe(created!.id);
  });

  test("not created when the setting is off: the person stays without an organization", async () => {
    const { user, answer, orgOf, orgs } = await fixture();
    const id = await user("ada@acme.com");
    await answer("ada@acme.com", { name: "Acme", domain: "acme.com" });
    expect(await orgs()).toEqual([]);
    expect(await orgOf(id)).toBeNull();
  });

  test("a person an admin placed stays there; their answer's company is still matched, never created", async () => {
    const { db, events, user, org, answer, orgOf, orgs } = await fixture({ create_organizations: true });
    const chosen = await org({ name: "Chosen" });
    const acme = await org({ name: "Acme", domain: "acme.com" });
    const placed = await user("ada@acme.com");
    await updateUser(people(db, events), placed, { organization_id: chosen }, admin);
    await answer("ada@acme.com", { name: "Acme", domain: "acme.com", description: "Rockets" });
    expect(await orgOf(placed)).toBe(chosen);
    expect((await orgs()).find((o) => o.id === acme)!.note).toBe("Rockets");
    const other = await user("bob@new.com", { organization_id: chosen });
    await answer("bob@new.com", { name: "New Co", domain: "new.com" });
    // Another source placed Bob: no organization is made for him.
    expect((await orgs()).map((o) => o.name)).toEqual(["Chosen", "Acme"]);
    expect(await orgOf(other)).toBe(chosen);
  });

  test("a later answer updates what the provider wrote, but never renames onto another organization's name", async () => {
    const { user, org, answer, orgs } = await fixture({ create_organizations: true });
    await user("ada@acme.com");
    await answer("ada@acme.com", { name: "Acme", domain: "acme.com", description: "v1" });
    const other = await org({ name: "Acme Inc" });
    await answer("ada@acme.com", { name: "Acme Inc", domain: "acme.com", description: "v2" });
    expect((await orgs()).map((o) => [o.name, o.note])).toEqual([
      ["Acme", "v2"],
      ["Acme Inc", null],
    ]);
    expect((await orgs())[1]!.id).toBe(other);
  });

  test("an answer without a company leaves the organization alone, asks for the employer's domain's company", async () => {
    const { db, user, org, answer, orgOf } = await fixture({ create_organizations: true });
    const acme = await org({ name: "Acme" });
    const id = await user("ada@acme.com", { organization_id: acme });
    await answer("ada@acme.com", null, { name: { givenName: "Ada" }, employment: { domain: "acme.com" } });
    expect(await orgOf(id)).toBe(acme);
    expect((await getUserRow(db, id)).firstname).toBe("Ada");
    const jobs = await rowsOf<{ payload: string }>(db, "SELECT payload FROM delivery_jobs WHERE kind = 'clearbit'");
    expect(jobs.map((j) => JSON.parse(j.payload))).toEqual([
      { type: "company", email: "ada@acme.com", domain: "acme.com" },
    ]);
  });
});

describe("clearbit: merging an answer into the person", () => {
  test("empty fields are filled, the provider's own values follow its answer; an admin's, another's stay", async () => {
    const { db, events, user, answer } = await fixture();
    const id = await user("ada@acme.com", { lastname: "From API" });
    await updateUser(people(db, events), id, { note: "admin's note" }, admin);
    await answer("ada@acme.com", null, {
      name: { givenName: "Ada", familyName: "Lovelace" },
      bio: "bio v1",
      site: "https://v1",
    });
    expect(await getUserRow(db, id)).toMatchObject({
      firstname: "Ada",
      lastname: "From API",
      note: "admin's note",
      web: "https://v1",
    });
    await answer("ada@acme.com", null, { name: { givenName: "Ada" }, site: "https://v2" });
    const row = await getUserRow(db, id);
    expect(row).toMatchObject({ firstname: "Ada", web: "https://v2", note: "admin's note" });
    expect(row.provenance.web?.source).toBe(SOURCE);
    expect(row.provenance.lastname?.source).toBe("api");
  });
});
