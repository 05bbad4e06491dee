import { describe, expect, test } from "bun:test";
import type { ChangeEvent } from "../../src/events/feed";
import { conditionHolds, conditionSchema, conditionsHold } from "../../src/webhooks/conditions";
import { samplePayload, stripHidden } from "../../src/webhooks/payloads";

const event = (changes: Record<string, [unknown, unknown]> = {}, objectType = "ticket"): ChangeEvent => ({
  id: 1,
  type: `${objectType}.updated`,
  objectType,
  objectId: 81,
  changes,
  actorId: null,
  source: "ui",
  createdAt: new Date(),
});
const data = samplePayload("ticket");
const holds = (field: string, operator: string, value?: string | string[], e = event()) =>
  conditionHolds({ field, operator, value }, data, e);

describe("trigger conditions", () => {
  test("is, is not, contains, starts with, in: embedded objects by name, lists by item", () => {
    expect(holds("ticket.state", "is", "open")).toBe(true);
    expect(holds("ticket.state", "is_not", "open")).toBe(false);
    expect(holds("ticket.customer.email", "contains", "EXAMPLE.com")).toBe(true);
    expect(holds("ticket.title", "starts_with", "webhook")).toBe(true);
    expect(holds("ticket.priority", "in", ["1 low", "2 normal"])).toBe(true);
    expect(holds("ticket.customer.roles", "is", "Customer")).toBe(true);
    expect(holds("ticket.customer.vip", "is", "false")).toBe(true);
    expect(holds("ticket.nothing.here", "is", "")).toBe(true);
  });

  test("changed and changed to look at the event's changes (state also as state_id)", () => {
    expect(holds("ticket.state", "changed", undefined, event({ state_id: [1, 2] }))).toBe(true);
    expect(holds("ticket.state", "changed_to", "open", event({ state_id: [1, 2] }))).toBe(true);
    expect(holds("ticket.state", "changed_to", "closed", event({ state_id: [1, 2] }))).toBe(false);
    expect(holds("ticket.title", "changed", undefined, event({ state_id: [1, 2] }))).toBe(false);
    expect(holds("ticket.title", "changed", undefined, event({ title: ["a", "b"] }, "user"))).toBe(false);
  });

  test("all and any; no conditions always hold", () => {
    const yes = { field: "ticket.state", operator: "is", value: "open" };
    const no = { field: "ticket.state", operator: "is", value: "closed" };
    expect(conditionsHold("all", [yes, no], data, event())).toBe(false);
    expect(conditionsHold("any", [yes, no], data, event())).toBe(true);
    expect(conditionsHold("all", [], data, event())).toBe(true);
  });

  test("validation: a value is required except for changed; in takes a list or comma-separated text", () => {
    expect(conditionSchema.safeParse({ field: "ticket.state", operator: "is" }).success).toBe(false);
    expect(conditionSchema.parse({ field: "ticket.state", operator: "changed", value: "x" })).toEqual({
      field: "ticket.state",
      operator: "changed",
      value: null,
    });
    expect(conditionSchema.parse({ field: "ticket.state", operator: "in", value: "new, open" }).value).toEqual([
      "new",
      "open",
    ]);
    expect(conditionSchema.safeParse({ field: "state", operator: "is", value: "x" }).success).toBe(false);
    expect(conditionSchema.safeParse({ field: "ticket.state", operator: "matches", value: "x" }).success).toBe(false);
  });

  test("embedded users lose every hidden attribute", () => {
    const user = stripHidden({
      id: 1,
      email: "a@b.c",
      password: "x",
      preferences: {},
      login_failed: 2,
      last_login: "t",
      group_ids: [1],
      groups: [],
      authorization_ids: [],
      authorizations: [],
    });
    expect(user).toEqual({ id: 1, email: "a@b.c" });
  });
});
