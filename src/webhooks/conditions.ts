import { z } from "zod";
import type { ChangeEvent } from "../events/feed";
import type { Condition } from "./schema";

/** The events a trigger can fire on: every change of the data model, not only tickets. */
export const TRIGGER_EVENTS = [
  "ticket.created",
  "ticket.updated",
  "ticket.deleted",
  "article.created",
  "user.created",
  "user.updated",
  "user.deleted",
  "user.enriched",
  "organization.created",
  "organization.updated",
  "organization.deleted",
  "group.created",
  "group.updated",
  "group.deleted",
] as const;

export const OPERATORS = ["is", "is_not", "contains", "starts_with", "in", "changed", "changed_to"] as const;
export type Operator = (typeof OPERATORS)[number];
export const OPERATOR_LABELS: Record<Operator, string> = {
  is: "is",
  is_not: "is not",
  contains: "contains",
  starts_with: "starts with",
  in: "is one of",
  changed: "changed",
  changed_to: "changed to",
};

/**
 * A condition names a field of the payload by path (ticket.state, ticket.customer.email, user.vip,
 * article.sender, organization.name). Values compare as text; an embedded object compares by its
 * name (ticket.state is "open"); a list field matches when one of its items does (user.roles is Agent).
 */
export const conditionSchema = z
  .strictObject({
    field: z.string().trim().regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/, "must be a field path such as ticket.state or user.email"),
    operator: z.enum(OPERATORS, `must be one of: ${OPERATORS.join(", ")}`),
    value: z.union([z.string().max(1000), z.array(z.string().max(1000)).max(200)]).nullish(),
  })
  .transform((c, ctx) => {
    if (c.operator === "changed") return { field: c.field, operator: c.operator, value: null };
    if (c.value === undefined || c.value === null) {
      ctx.addIssue({ code: "custom", path: ["value"], message: "is required for this operator" });
      return z.NEVER;
    }
    if (c.operator === "in") {
      const list = (Array.isArray(c.value) ? c.value : c.value.split(",")).map((v) => v.trim()).filter(Boolean);
      if (!list.length) {
        ctx.addIssue({ code: "custom", path: ["value"], message: "needs at least one value" });
        return z.NEVER;
      }
      return { field: c.field, operator: c.operator, value: list };
    }
    if (Array.isArray(c.value)) {
      ctx.addIssue({ code: "custom", path: ["value"], message: "must be a single value for this operator" });
      return z.NEVER;
    }
    return { field: c.field, operator: c.operator, value: c.value };
  });

function valueAt(data: unknown, path: string): unknown {
  let v: unknown = data;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  // An embedded object (state, priority, organization, group) stands for its name.
  if (v && typeof v === "object" && !Array.isArray(v) && "name" in v) return (v as { name: unknown }).name;
  return v;
}

const asText = (v: unknown): string => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
const items = (v: unknown): string[] => (Array.isArray(v) ? v.map(asText) : [asText(v)]);

/** Did this event change the field? `ticket.state` also counts a change of state_id. */
function changed(event: ChangeEvent, field: string): boolean {
  const [root, name] = field.split(".");
  if (root !== event.objectType || !name) return false;
  return name in event.changes || `${name}_id` in event.changes;
}

export function conditionHolds(c: Condition, data: unknown, event: ChangeEvent): boolean {
  const actual = items(valueAt(data, c.field));
  const wanted = Array.isArray(c.value) ? c.value : [c.value ?? ""];
  const lower = (s: string) => s.toLowerCase();
  switch (c.operator as Operator) {
    case "is":
      return actual.includes(wanted[0]!);
    case "is_not":
      return !actual.includes(wanted[0]!);
    case "contains":
      return actual.some((a) => lower(a).includes(lower(wanted[0]!)));
    case "starts_with":
      return actual.some((a) => lower(a).startsWith(lower(wanted[0]!)));
    case "in":
      return actual.some((a) => wanted.includes(a));
    case "changed":
      return changed(event, c.field);
    case "changed_to":
      return changed(event, c.field) && actual.includes(wanted[0]!);
    default:
      return false;
  }
}

/** No conditions: always. "all": every one holds; "any": at least one. */
export function conditionsHold(match: "all" | "any", conditions: Condition[], data: unknown, event: ChangeEvent): boolean {
  if (!conditions.length) return true;
  return match === "all" ? conditions.every((c) => conditionHolds(c, data, event)) : conditions.some((c) => conditionHolds(c, data, event));
}
