import { OPERATOR_LABELS, type Operator } from "../conditions";
import type { Db } from "../db/client";
import { listGroups } from "../domain/groups";
import { organizationNameList } from "../domain/organizations";
import { ROLE_NAMES } from "../domain/roles";
import { PRIORITIES, STATES } from "../domain/tickets";
import type { CatalogueEntry, Choices, FieldType } from "./catalogue";
import { OPERATORS, VALUELESS } from "./conditions";
import type { Condition } from "./schema";

type Form = Record<string, unknown>;

/** The operators that make sense for each type of field. */
const OPERATORS_BY_TYPE: Record<FieldType, readonly Operator[]> = {
  text: ["is", "is_not", "contains", "starts_with", "in", "exists", "not_exists", "changed", "changed_to"],
  named: ["is", "is_not", "in", "contains", "starts_with", "exists", "not_exists", "changed", "changed_to"],
  number: ["is", "is_not", "in", "gt", "gte", "lt", "lte", "exists", "not_exists", "changed", "changed_to"],
  boolean: ["is", "is_not", "changed", "changed_to"],
  time: ["within_last_days", "before_last_days", "exists", "not_exists", "changed"],
  list: ["contains", "is", "is_not", "in", "exists", "not_exists", "changed"],
};
/** Organizations offered in a list; past this many the value is typed (with suggestions). */
const PICKABLE_ORGANIZATIONS = 500;

/** A condition row as the form posts it: its row number and its three inputs. */
export type ConditionRow = { index: number; field: string; operator: string; value: string | string[] };

const text = (v: unknown) => (typeof v === "string" ? v : "");
const texts = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : text(v));

/** The condition rows of a posted form (cond_field_N, cond_operator_N, cond_value_N), in row order. */
export function conditionRowsOf(form: Form): ConditionRow[] {
  return Object.keys(form)
    .map((k) => /^cond_field_(\d{1,4})$/.exec(k)?.[1])
    .filter((i): i is string => i !== undefined)
    .map(Number)
    .sort((a, b) => a - b)
    .map((index) => ({
      index,
      field: text(form[`cond_field_${index}`]).trim(),
      operator: text(form[`cond_operator_${index}`]),
      value: texts(form[`cond_value_${index}`]),
    }));
}

/** The rows with a field, as the API takes conditions (a row without a field is ignored). */
export function conditionsOf(rows: ConditionRow[]): Record<string, unknown>[] {
  return rows
    .filter((r) => r.field)
    .map((r) => ({ field: r.field, operator: r.operator, value: VALUELESS.includes(r.operator) ? null : r.value }));
}

/**
 * Errors about conditions name the condition by its place among the rows with a field
 * (conditions.1.field); the form shows them on that row and names it "condition 2".
 */
export function rowErrors(rows: ConditionRow[], errors: Record<string, string>) {
  const filled = rows.filter((r) => r.field);
  const byRow = new Map<number, string>();
  const labelled: Record<string, string> = {};
  for (const [key, message] of Object.entries(errors)) {
    const m = /^conditions\.(\d+)\.(\w+)$/.exec(key);
    const row = m ? filled[Number(m[1])] : undefined;
    if (!m || !row) {
      labelled[key] = message;
      continue;
    }
    byRow.set(row.index, [byRow.get(row.index), `${m[2]} ${message}`].filter(Boolean).join("; "));
    labelled[`condition ${Number(m[1]) + 1} ${m[2]}`] = message;
  }
  return { byRow, labelled };
}

/**
 * The rows the form shows: the given ones and one empty row to add to without a script. Each field
 * list offers `paths` (the chosen events' fields), and keeps a typed path it lacks, to be refused.
 */
export function conditionRowViews(rows: ConditionRow[], paths: string[], errors: Map<number, string> = new Map()) {
  const next = rows.length ? Math.max(...rows.map((r) => r.index)) + 1 : 0;
  return {
    rows: [...rows, { index: next, field: "", operator: "is", value: "" }].map((r) =>
      rowView(r, paths, errors.get(r.index)),
    ),
    next: next + 1,
  };
}

/** The row the script copies to add one: its number and field list are filled in then. */
export const templateRowView = () => ({
  ...rowView({ index: 0, field: "", operator: "is", value: "" }, []),
  index: "__i__",
});

function rowView(r: ConditionRow, paths: string[], error?: string) {
  const choices = r.field && !paths.includes(r.field) ? [r.field, ...paths] : paths;
  return {
    index: r.index,
    fieldChoices: choices.map((path) => ({ path, selected: path === r.field })),
    value: Array.isArray(r.value) ? r.value.join(", ") : r.value,
    operators: OPERATORS.map((o) => ({ value: o, label: OPERATOR_LABELS[o], selected: o === r.operator })),
    error: error ?? null,
  };
}

/** Saved conditions as form rows. */
export const rowsOfConditions = (conditions: Condition[]): ConditionRow[] =>
  conditions.map((c, index) => ({ index, field: c.field, operator: c.operator, value: c.value ?? "" }));

/** What the editor's script needs (the form's data-catalogue): fields by event, their types, the value lists. */
export async function editorCatalogue(db: Db, entries: CatalogueEntry[]) {
  const fields: Record<string, { type: FieldType; choices: Choices | null }> = {};
  for (const e of entries) for (const f of e.fields) fields[f.path] ??= { type: f.type, choices: f.choices };
  const choices: Record<Choices, string[]> = {
    states: [...STATES],
    priorities: [...PRIORITIES],
    roles: [...ROLE_NAMES],
    boolean: ["true", "false"],
    groups: (await listGroups(db)).map((g) => g.name),
    organizations: await organizationNameList(db, PICKABLE_ORGANIZATIONS),
  };
  return {
    events: Object.fromEntries(entries.map((e) => [e.type, e.fields.map((f) => f.path)])),
    fields,
    choices,
    operators: OPERATORS.map((o) => ({
      value: o,
      label: OPERATOR_LABELS[o],
      types: Object.entries(OPERATORS_BY_TYPE)
        .filter(([, ops]) => ops.includes(o))
        .map(([t]) => t),
    })),
    valueless: VALUELESS,
  };
}
