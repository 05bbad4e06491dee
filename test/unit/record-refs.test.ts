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

function issueOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  throw new Error("expected a ValidationError");
}

describe("resolveUserRef", () => {
  test("finds a user by id or by email (any case), and names the field when nobody matches", () => {
    const { db, people } = fresh();
    const u = createUser(people, { email: "Ann@Example.com" }, actor);
    expect(resolveUserRef(db, String(u.id), "reassign_to")).toBe(u.id);
    expect(resolveUserRef(db, "  ann@example.COM ", "reassign_to")).toBe(u.id);
    expect(issueOf(() => resolveUserRef(db, "999", "reassign_to"))).toEqual([
      { field: "reassign_to", message: 'no user with the id or email "999"' },
    ]);
    expect(issueOf(() => resolveUserRef(db, "bob@example.com", "owner"))[0]!.field).toBe("owner");
    expect(issueOf(() => resolveUserRef(db, "   ", "reassign_to"))[0]!.message).toContain("is required");
  });
});

describe("resolveOrganizationRef", () => {
  test("finds an organization by id or by name without regard to case", () => {
    const { db, feed } = fresh();
    const o = createOrganization(db, feed, { name: "Acme Corp" }, actor);
    expect(resolveOrganizationRef(db, String(o.id), "reassign_to")).toBe(o.id);
    expect(resolveOrganizationRef(db, "acme corp", "reassign_to")).toBe(o.id);
    expect(issueOf(() => resolveOrganizationRef(db, "Globex", "reassign_to"))).toEqual([
      { field: "reassign_to", message: 'no organization with the id or name "Globex"' },
    ]);
  });

  test("an organization named with digits is found by name when no id matches", () => {
    const { db, feed } = fresh();
    const o = createOrganization(db, feed, { name: "3000" }, actor);
    expect(resolveOrganizationRef(db, "3000", "x")).toBe(o.id);
  });
});

describe("describeUsers", () => {
  test("returns the named users in one map, skipping nulls, repeats and unknown ids", () => {
    const { db, people } = fresh();
    const a = createUser(people, { email: "a@example.com", firstname: "A" }, actor);
    const b = createUser(people, { login: "b-login" }, actor);
    const map = describeUsers(db, [a.id, null, b.id, a.id, 999, undefined]);
    expect([...map.keys()].sort()).toEqual([a.id, b.id].sort());
    expect(map.get(a.id)).toEqual({
      id: a.id,
      email: "a@example.com",
      login: "a@example.com",
      firstname: "A",
      lastname: null,
    });
    expect(map.get(b.id)?.login).toBe("b-login");
    expect(describeUsers(db, []).size).toBe(0);
  });
});
