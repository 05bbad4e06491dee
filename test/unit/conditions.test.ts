import { describe, expect, test } from "bun:test";
import { conditionHolds, conditionsHold, OPERATOR_LABELS, OPERATORS } from "../../src/conditions";
import { filterConditions } from "../../src/crm-sync/config";
import { matches, OPERATORS as AUDIENCE_OPERATORS } from "../../src/enrichment/audiences";
import type { ChangeEvent } from "../../src/events/feed";
import { conditionHolds as triggerHolds, OPERATORS as TRIGGER_OPERATORS } from "../../src/webhooks/conditions";

const event: ChangeEvent = {
  id: 1,
  type: "user.updated",
  objectType: "user",
  objectId: 7,
  changes: { organization_id: [null, 2] },
  actorId: null,
  source: "ui",
  createdAt: new Date(),
};
const person = {
  email: "Ada@Example.com",
  roles: ["Agent", "Customer"],
  organization: { id: 2, name: "Acme" },
  organization_id: 2,
  orders: 3,
  empty: "",
};

describe("one condition language", () => {
  test("triggers, audiences and CRM filters offer operators of the one language, each with one label", () => {
    const known = new Set<string>(OPERATORS);
    for (const op of [
      ...TRIGGER_OPERATORS,
      ...AUDIENCE_OPERATORS.map((o) => ({ eq: "is", neq: "is_not" })[o as string] ?? o),
    ])
      expect(known.has(op)).toBe(true);
    expect(Object.keys(OPERATOR_LABELS).sort()).toEqual([...OPERATORS].sort());
  });

  test("an operator means the same in a trigger and an audience: text ignores case, lists match by item", () => {
    const cases: [string, string, string, boolean][] = [
      ["email", "is", "ada@example.com", true],
      ["roles", "is", "agent", true],
      ["roles", "contains", "Age", false],
      ["email", "contains", "EXAMPLE", true],
      ["organization", "is", "acme", true],
      ["orders", "is", "3", true],
    ];
    for (const [field, op, value, expected] of cases) {
      expect([field, op, conditionHolds({ field, op, value }, person)]).toEqual([field, op, expected]);
      expect(triggerHolds({ field: `user.${field}`, operator: op, value }, { user: person }, event)).toBe(expected);
      expect(matches({ field, op: op === "is" ? "eq" : (op as "contains"), value }, person)).toBe(expected);
    }
  });

  test("a missing field never equals anything, except in a payload where it reads as empty text", () => {
    expect(conditionHolds({ field: "missing", op: "is", value: "" }, person)).toBe(false);
    expect(conditionHolds({ field: "missing", op: "is", value: "" }, person, { missingAsEmpty: true })).toBe(true);
    expect(conditionHolds({ field: "missing", op: "is_not", value: "x" }, person)).toBe(true);
    expect(conditionHolds({ field: "empty", op: "exists" }, person)).toBe(false);
  });

  test("changed and changed to need the event; numbers compare as numbers", () => {
    expect(conditionHolds({ field: "user.organization", op: "changed" }, { user: person }, { event })).toBe(true);
    expect(
      conditionHolds({ field: "user.organization", op: "changed_to", value: "ACME" }, { user: person }, { event }),
    ).toBe(true);
    expect(conditionHolds({ field: "user.organization", op: "changed" }, { user: person })).toBe(false);
    expect(conditionHolds({ field: "orders", op: "lt", value: "10" }, person)).toBe(true);
  });

  test("a CRM filter is a match-all set of conditions over roles and organization", () => {
    expect(filterConditions({ role: null, organizationId: null })).toEqual([]);
    const both = filterConditions({ role: "Agent", organizationId: 2 });
    expect(conditionsHold("all", both, person)).toBe(true);
    expect(conditionsHold("all", filterConditions({ role: "Admin", organizationId: 2 }), person)).toBe(false);
    expect(conditionsHold("all", filterConditions({ role: "Agent", organizationId: 3 }), person)).toBe(false);
    expect(conditionsHold("all", both, null)).toBe(false);
  });
});
