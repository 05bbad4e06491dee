/** The comparisons every feature offers: order, presence and time windows. */
export const COMPARISONS = [
  "gt",
  "gte",
  "lt",
  "lte",
  "exists",
  "not_exists",
  "within_last_days",
  "before_last_days",
] as const;

/**
 * The one condition language: webhook triggers, audiences and CRM filters all evaluate with it. A
 * condition names a field by dotted path (ticket.state, traits.plan), an operator and a value; a set
 * of conditions matches when all of them hold, or any. Each feature keeps its stored format and may
 * offer a subset of the operators; the meaning of an operator is the same everywhere.
 *
 * Field access: an embedded object that has a name (a ticket's state, a person's organization) stands
 * for its name; a list matches when one of its items does. Text compares ignoring case.
 */
export const OPERATORS = [
  "is",
  "is_not",
  "contains",
  "starts_with",
  "in",
  ...COMPARISONS,
  "changed",
  "changed_to",
] as const;
export type Operator = (typeof OPERATORS)[number];

export const OPERATOR_LABELS: Record<Operator, string> = {
  is: "is",
  is_not: "is not",
  contains: "contains",
  starts_with: "starts with",
  in: "is one of",
  gt: "is more than",
  gte: "is at least",
  lt: "is less than",
  lte: "is at most",
  exists: "is set",
  not_exists: "is not set",
  within_last_days: "within the last days",
  before_last_days: "before the last days",
  changed: "changed",
  changed_to: "changed to",
};

/** Other spellings stored by a feature: audiences say eq and neq (Segment's words). */
const ALIASES: Record<string, Operator> = { eq: "is", neq: "is_not" };

type ConditionValue = string | number | boolean | string[] | null | undefined;
export type Condition = { field: string; op: string; value?: ConditionValue };
export type Match = "all" | "any";

export type Scope = {
  /** The change being judged (changed, changed_to look at it); without one, nothing changed. */
  event?: { objectType: string; changes: Record<string, unknown> };
  /** For the time operators; Date.now() when absent. */
  now?: number;
  /** A missing or null field reads as empty text, as it does in a rendered payload (triggers). */
  missingAsEmpty?: boolean;
};

const DAY = 86_400_000;

/** The value at a dotted path (ticket.customer.email), or undefined; arrays are walked by index unless told not to. */
export function valueAtPath(data: unknown, path: string, opts: { intoArrays?: boolean } = {}): unknown {
  let v: unknown = data;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object" || (opts.intoArrays === false && Array.isArray(v))) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** A field's value for a condition: an object with a name (an organization, a state) stands for its name. */
function valueAt(data: unknown, path: string): unknown {
  const v = valueAtPath(data, path);
  if (v && typeof v === "object" && !Array.isArray(v) && "name" in v) return (v as { name: unknown }).name;
  return v;
}

const asText = (v: unknown): string =>
  (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)).toLowerCase();
const items = (v: unknown): string[] => (Array.isArray(v) ? v.map(asText) : [asText(v)]);
const present = (v: unknown) => v !== undefined && v !== null && v !== "";
const num = (v: unknown) =>
  typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v)) ? Number(v) : null;
const time = (v: unknown) => (typeof v === "string" || typeof v === "number" ? new Date(v).getTime() : NaN);

/** Did the event change the field? `ticket.state` also counts a change of state_id. */
function changed(event: Scope["event"], field: string): boolean {
  const [root, name] = field.split(".");
  if (!event || root !== event.objectType || !name) return false;
  return name in event.changes || `${name}_id` in event.changes;
}

export function conditionHolds(c: Condition, data: unknown, scope: Scope = {}): boolean {
  let v = valueAt(data, c.field);
  if (scope.missingAsEmpty && (v === undefined || v === null)) v = "";
  const wanted = Array.isArray(c.value) ? c.value.map(asText) : [asText(c.value)];
  const want = wanted[0]!;
  const known = v !== undefined && v !== null;
  const op = ALIASES[c.op] ?? (c.op as Operator);
  switch (op) {
    case "is":
      return known && items(v).includes(want);
    case "is_not":
      return !(known && items(v).includes(want));
    case "contains":
      // A list holds the value as one of its items; text holds it anywhere.
      return known && (Array.isArray(v) ? items(v).includes(want) : asText(v).includes(want));
    case "starts_with":
      return known && items(v).some((a) => a.startsWith(want));
    case "in":
      return known && items(v).some((a) => wanted.includes(a));
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      const a = num(v);
      const b = num(c.value);
      if (a === null || b === null) return false;
      return op === "gt" ? a > b : op === "gte" ? a >= b : op === "lt" ? a < b : a <= b;
    }
    case "exists":
      return present(v);
    case "not_exists":
      return !present(v);
    case "within_last_days":
    case "before_last_days": {
      const t = time(v);
      const days = num(c.value);
      if (!present(v) || Number.isNaN(t) || days === null) return false;
      const since = (scope.now ?? Date.now()) - days * DAY;
      return op === "within_last_days" ? t >= since : t < since;
    }
    case "changed":
      return changed(scope.event, c.field);
    case "changed_to":
      return changed(scope.event, c.field) && known && items(v).includes(want);
    default:
      return false;
  }
}

/** "all": every condition holds; "any": at least one. No conditions: always. */
export function conditionsHold(
  match: Match,
  conditions: readonly Condition[],
  data: unknown,
  scope: Scope = {},
): boolean {
  if (!conditions.length) return true;
  return match === "any"
    ? conditions.some((c) => conditionHolds(c, data, scope))
    : conditions.every((c) => conditionHolds(c, data, scope));
}
