import { describe, expect, test } from "bun:test";
import { personSourceFromDeleted } from "../../src/crm-sync/tokens";
import { importColumns } from "../../src/csv/records-csv";
import { RESERVED_NAMES } from "../../src/domain/custom-fields";
import { createUser, getUserRow, replaceUser, SNAPSHOT_FIELDS, USER_FIELDS, userJson } from "../../src/domain/users";
import { profileOf } from "../../src/enrichment/audiences";
import { EventFeed, type Actor } from "../../src/events/feed";
import { PersonFields } from "../../src/domain/person-fields";
import { unitDb, people } from "../support/unit-db";

const actor: Actor = { id: null, source: "api" };

describe("one list of user columns", async () => {
  const db = await unitDb();
  const ctx = people(db, new EventFeed(db));
  const created = await createUser(
    ctx,
    { email: "ada@example.com", firstname: "Ada", vip: true, out_of_office: true, traits: { plan: "pro" } },
    actor,
  );
  const row = await getUserRow(db, created.id);

  test("the API shape, the audience profile and reserved names hold every column", async () => {
    const api = await userJson(db, new PersonFields(), row);
    const profile = await profileOf(db, row);
    for (const f of USER_FIELDS) {
      expect([f, f in api, f in profile]).toEqual([f, true, true]);
      expect(RESERVED_NAMES.has(f)).toBe(true);
    }
    expect(profile.out_of_office).toBe(true);
  });

  test("CSV columns are the columns with the organization by name", async () => {
    expect(await importColumns(db, "user")).toEqual([
      "id",
      ...USER_FIELDS.map((f) => (f === "organization_id" ? "organization" : f)),
      "roles",
      "traits",
    ]);
  });

  test("a deleted person's snapshot keeps only custom fields as custom", async () => {
    const before = Object.fromEntries(
      [...SNAPSHOT_FIELDS, "shoe_size"].map((f) => [f, [f === "shoe_size" ? 42 : null, null]]),
    ) as Record<string, [unknown, unknown]>;
    expect((await personSourceFromDeleted(db, row.id, before)).custom).toEqual({ shoe_size: 42 });
  });

  test("PUT clears every left-out column but login to a new person's value", async () => {
    const replaced = await replaceUser(ctx, row.id, { email: "ada@example.com" }, actor);
    expect({
      vip: replaced.vip,
      out_of_office: replaced.out_of_office,
      firstname: replaced.firstname,
      active: replaced.active,
      traits: replaced.traits,
      login: replaced.login,
    }).toEqual({
      vip: false,
      out_of_office: false,
      firstname: null,
      active: true,
      traits: {},
      login: row.login,
    });
  });
});
