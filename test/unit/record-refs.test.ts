import { describe, expect, test } from "bun:test";
import { openDatabase } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";
import { migrations } from "../../src/db/migrations.generated";
import { createOrganization, resolveOrganizationRef } from "../../src/domain/organizations";
import { createUser, describeUsers, resolveUserRef } from "../../src/domain/users";
import { ValidationError } from "../../src/errors";
import { EventFeed } from "../../src/events/feed";
import { PersonFields } from "../../src/domain/person-fields";

function fresh() {
  const db = openDatabase(":memory:");
  migrate(db.$client, migrations);
  const feed = new EventFeed(db);
  return { db, feed, people: { db, events: feed, personFields: new PersonFields() } };
}
const actor = { id: null, source: "system" } as const;

async function issueOf(fn: () => Promise<unknown>) {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  throw new Error("expected a ValidationError");
}

describe("resolveUserRef", () => {
  test("finds a user by id or by email (any case), and names the field when nobody matches", async () => {
    const { db, people } = fresh();
    const u = await createUser(people, { email: "Ann@Example.com" }, actor);
    expect(await resolveUserRef(db, String(u.id), "reassign_to")).toBe(u.id);
    expect(await resolveUserRef(db, "  ann@example.COM ", "reassign_to")).toBe(u.id);
    expect(await issueOf(() => resolveUserRef(db, "999", "reassign_to"))).toEqual([
      { field: "reassign_to", message: 'no user with the id or email "999"' },
    ]);
    expect((await issueOf(() => resolveUserRef(db, "bob@example.com", "owner")))[0]!.field).toBe("owner");
    expect((await issueOf(() => resolveUserRef(db, "   ", "reassign_to")))[0]!.message).toContain("is required");
  });
});

describe("resolveOrganizationRef", () => {
  test("finds an organization by id or by name without regard to case", async () => {
    const { db, feed } = fresh();
    const o = await createOrganization(db, feed, { name: "Acme Corp" }, actor);
    expect(await resolveOrganizationRef(db, String(o.id), "reassign_to")).toBe(o.id);
    expect(await resolveOrganizationRef(db, "acme corp", "reassign_to")).toBe(o.id);
    expect(await issueOf(() => resolveOrganizationRef(db, "Globex", "reassign_to"))).toEqual([
      { field: "reassign_to", message: 'no organization with the id or name "Globex"' },
    ]);
  });

  test("an organization named with digits is found by name when no id matches", async () => {
    const { db, feed } = fresh();
    const o = await createOrganization(db, feed, { name: "3000" }, actor);
    expect(await resolveOrganizationRef(db, "3000", "x")).toBe(o.id);
  });
});

describe("describeUsers", () => {
  test("returns the named users in one map, skipping nulls, repeats and unknown ids", async () => {
    const { db, people } = fresh();
    const a = await createUser(people, { email: "a@example.com", firstname: "A" }, actor);
    const b = await createUser(people, { login: "b-login" }, actor);
    const map = await describeUsers(db, [a.id, null, b.id, a.id, 999, undefined]);
    expect([...map.keys()].sort()).toEqual([a.id, b.id].sort());
    expect(map.get(a.id)).toEqual({
      id: a.id,
      email: "a@example.com",
      login: "a@example.com",
      firstname: "A",
      lastname: null,
    });
    expect(map.get(b.id)?.login).toBe("b-login");
    expect((await describeUsers(db, [])).size).toBe(0);
  });
});

describe("a person's organization by name", () => {
  test("is found with the same rule as everywhere: any case, surrounding spaces ignored", async () => {
    const { db, people, feed } = fresh();
    const o = await createOrganization(db, feed, { name: "Acme Corp" }, actor);
    const u = await createUser(people, { email: "ann@example.com", organization: "  acme CORP " }, actor);
    expect(u.organization_id).toBe(o.id);
  });
});
