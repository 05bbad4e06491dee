import { z } from "zod";
import type { ChangeEvent } from "../events/feed";
import { conditionHolds as holds, conditionsHold as allOrAny, OPERATORS as ALL, type Match } from "../conditions";
import type { Condition } from "./schema";

/** The operators a trigger offers: every one of the shared language's; the editor narrows them to a field's type. */
export const OPERATORS = ALL;
/** Operators that take no value. */
export const VALUELESS: readonly string[] = ["changed", "exists", "not_exists"];

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
    if (VALUELESS.includes(c.operator)) return { field: c.field, operator: c.operator, value: null };
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
