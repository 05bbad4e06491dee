import { z } from "zod";
import type { ChangeEvent } from "../events/feed";
import { conditionHolds as holds, conditionsHold as allOrAny, type Match, type Operator } from "../conditions";
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

/** The operators a trigger offers (the shared language's text and change operators). */
export const OPERATORS = [
  "is",
  "is_not",
  "contains",
  "starts_with",
  "in",
  "changed",
  "changed_to",
] as const satisfies readonly Operator[];

/**
 * A condition names a field of the payload by path (ticket.state, ticket.customer.email, user.vip,
 * article.sender, organization.name), evaluated by the shared condition language (src/conditions.ts).
 */
export const conditionSchema = z
  .strictObject({
    field: z
      .string()
      .trim()
      .regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/, "must be a field path such as ticket.state or user.email"),
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

/**
 * A trigger's condition (stored with `operator`) in the shared language, over a
 * payload: a missing field reads as empty text.
 */
export function conditionHolds(c: Condition, data: unknown, event: ChangeEvent): boolean {
  return holds({ field: c.field, op: c.operator, value: c.value }, data, { event, missingAsEmpty: true });
}

/** No conditions: always. "all": every one holds; "any": at least one. */
export function conditionsHold(match: Match, conditions: Condition[], data: unknown, event: ChangeEvent): boolean {
  return allOrAny(
    match,
    conditions.map((c) => ({ field: c.field, op: c.operator, value: c.value })),
    data,
    { event, missingAsEmpty: true },
  );
}
