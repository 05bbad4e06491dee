import type { CustomField } from "../../domain/custom-fields";
import type { SessionInfo } from "../../domain/sessions";
import { AppError, ValidationError, type FieldIssue } from "../../errors";
import type { Actor } from "../../events/feed";
import type { PickerSource } from "./pickers";
import { renderFragment } from "../../views";
import { flashCookie } from "../auth";
import type { AppContext } from "../context";
import { html, redirect, statusOf } from "../responses";

/**
 * HTML forms send strings; the domain wants typed values. One spec per form field says how to
 * convert it (checkbox → boolean, number, id, "" → null ...) and how to render it back.
 */
type FieldKind =
  | "text"
  | "email"
  | "url"
  | "tel"
  | "textarea"
  | "number"
  | "date"
  | "checkbox"
  | "select"
  | "id"
  | "ids"
  | "lines"
  /** One record chosen by searching (a picker); submits its id. */
  | "pick"
  /** Records chosen by searching, shown as chips; submits their ids. */
  | "picks";

export type FieldSpec = {
  name: string;
  label: string;
  kind: FieldKind;
  /** Choices of a select: values, or value/label pairs. */
  options?: (string | { value: string; label: string })[];
  required?: boolean;
  help?: string;
  /** Spans the whole form grid (long text). */
  wide?: boolean;
  /** What an empty value means: null clears it (the default), "omit" leaves it unchanged. */
  empty?: "null" | "omit";
  /** A datalist id offering suggestions. */
  list?: string;
  autocomplete?: string;
  /** A select whose values are record ids: sent to the domain as numbers. */
  numeric?: boolean;
  /** Domain error fields that belong to this input (organization_id → the organization input). */
  aliases?: string[];
  /** What a picker searches. */
  source?: PickerSource;
  placeholder?: string;
};

type Body = Record<string, unknown>;
const TEXT_KINDS = new Set<FieldKind>(["text", "email", "url", "tel", "textarea"]);

/**
 * The raw string of a form value (a repeated name keeps the last one a browser
 * sent: the checked box over its hidden twin).
 */
function raw(body: Body, name: string): string | undefined {
  const v = body[name];
  if (Array.isArray(v)) return v.length ? String(v.at(-1)) : undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

/**
 * Converts a submitted form to domain input, field by field. A value that cannot be converted
 * (letters in a number) is a ValidationError naming the field, like the domain's own.
 */
export function parseForm(body: unknown, specs: FieldSpec[]): Record<string, unknown> {
  const form = (body ?? {}) as Body;
  const out: Record<string, unknown> = {};
  const issues: FieldIssue[] = [];
  for (const spec of specs) {
    const value = raw(form, spec.name);
    if (spec.kind === "checkbox") {
      out[spec.name] = value === "true" || value === "on" || value === "1";
      continue;
    }
    if (value === undefined) continue;
    const trimmed = value.trim();
    if (trimmed === "" && spec.kind !== "ids" && spec.kind !== "picks" && spec.kind !== "lines") {
      // A required text stays "", so the domain answers with its own "is required".
      if (spec.required && TEXT_KINDS.has(spec.kind)) out[spec.name] = "";
      else if (spec.required && spec.kind === "pick")
        issues.push({ field: spec.name, message: "is required: search by name and pick one" });
      else if (spec.empty !== "omit") out[spec.name] = null;
      continue;
    }
    switch (spec.kind) {
      case "number": {
        const n = Number(trimmed);
        if (Number.isFinite(n)) out[spec.name] = n;
        else issues.push({ field: spec.name, message: "must be a number" });
        break;
      }
      case "select":
        out[spec.name] = spec.numeric && /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : value;
        break;
      case "id":
      case "pick":
        if (/^\d{1,15}$/.test(trimmed) && Number(trimmed) > 0) out[spec.name] = Number(trimmed);
        else
          issues.push({
            field: spec.name,
            message: spec.kind === "pick" ? "must be chosen from the suggestions" : "must be an id (a whole number)",
          });
        break;
      case "ids":
      case "picks": {
        const parts = trimmed.split(/[\s,]+/).filter(Boolean);
        const bad = parts.filter((p) => !/^\d{1,15}$/.test(p) || Number(p) === 0);
        if (bad.length)
          issues.push({
            field: spec.name,
            message: `must be ids (whole numbers) separated by commas; not: ${bad.slice(0, 3).join(", ")}`,
          });
        else out[spec.name] = [...new Set(parts.map(Number))];
        break;
      }
      case "lines":
        out[spec.name] = value
          .split(/\r?\n/)
          .map((l) => l.trim())
          .filter(Boolean);
        break;
      default:
        out[spec.name] = value;
    }
  }
  if (issues.length) throw new ValidationError(issues);
  return out;
}

/** How a custom field is entered on a person's or organization's form. */
export function customFieldSpecs(fields: CustomField[]): FieldSpec[] {
  const kinds: Record<CustomField["type"], FieldKind> = {
    text: "text",
    number: "number",
    boolean: "checkbox",
    date: "date",
    select: "select",
  };
  return fields.map((f) => ({
    name: f.name,
    label: f.label,
    kind: kinds[f.type],
    options: f.type === "select" ? f.options : undefined,
    required: f.required,
  }));
}

/**
 * Template data for each input: its value (from the record, or as typed when the form comes back
 * with errors), its error and the ids that tie label, input and message together.
 */
export function fieldViews(specs: FieldSpec[], values: Record<string, unknown>, errors: Record<string, string> = {}) {
  return specs.map((s) => {
    const v = values[s.name];
    const value =
      v === null || v === undefined ? "" : Array.isArray(v) ? v.join(s.kind === "lines" ? "\n" : ", ") : String(v);
    const error = [s.name, ...(s.aliases ?? [])].map((n) => errors[n]).find(Boolean) ?? null;
    const choices = (s.options ?? []).map((o) => (typeof o === "string" ? { value: o, label: o } : o));
    const picker = s.kind === "pick" || s.kind === "picks" ? pickerView(s, value, values) : {};
    return {
      name: s.name,
      id: `f-${s.name}`,
      label: s.label,
      value,
      checked: v === true || v === "true" || v === "on",
      error,
      invalid: error ? "true" : "false",
      describedBy: [s.help ? `f-${s.name}-help` : "", `f-${s.name}-error`].filter(Boolean).join(" "),
      help: s.help ?? null,
      required: s.required ?? false,
      wide: s.wide ?? (s.kind === "textarea" || s.kind === "lines"),
      list: s.list ?? null,
      autocomplete: s.autocomplete ?? null,
      isCheckbox: s.kind === "checkbox",
      isSelect: s.kind === "select",
      isTextarea: s.kind === "textarea" || s.kind === "lines",
      isInput: !["checkbox", "select", "textarea", "lines", "pick", "picks"].includes(s.kind),
      isPicker: s.kind === "pick" || s.kind === "picks",
      ...picker,
      inputType: { email: "email", url: "url", tel: "tel", number: "number", date: "date" }[s.kind as string] ?? "text",
      step: s.kind === "number" ? "any" : null,
      // A required select has no empty choice: one of its options is always sent.
      choices: [
        ...(s.required ? [] : [{ value: "", label: "—", selected: value === "" }]),
        ...choices.map((c) => ({ ...c, selected: c.value === value })),
      ],
    };
  });
}

/**
 * A picker's chosen record(s) with their names: a form answered with errors brings back the names as the browser
 * sent them (`<name>__q`, `<name>__labels`); a record's form gets them from `withPickedLabels`.
 */
function pickerView(s: FieldSpec, value: string, values: Record<string, unknown>) {
  const base = { source: s.source ?? "people", placeholder: s.placeholder ?? "Search by name…", multiple: false };
  if (s.kind === "pick") return { ...base, pickLabel: String(values[`${s.name}__q`] ?? "") };
  const ids = value.split(/[\s,]+/).filter(Boolean);
  let labels: unknown = [];
  try {
    labels = JSON.parse(String(values[`${s.name}__labels`] ?? "[]"));
  } catch {}
  const names = Array.isArray(labels) ? labels.map(String) : [];
  const chips = ids.map((id, i) => ({ value: id, label: names[i] ?? `#${id}` }));
  return {
    ...base,
    multiple: true,
    value: ids.join(","),
    pickLabel: "",
    chips,
    chipLabels: JSON.stringify(chips.map((c) => c.label)),
  };
}

/** Field errors of a failed form as {field: message}, or rethrow what is not about the form's fields. */
export function formErrors(err: unknown): Record<string, string> {
  if (err instanceof AppError && Array.isArray(err.details)) {
    const out: Record<string, string> = {};
    for (const d of err.details as FieldIssue[]) out[d.field || "form"] ??= d.message;
    return out;
  }
  throw err;
}

/**
 * After a failed save, each secret the admin typed asks to be typed again: a secret is never sent
 * back to the browser, and its field left empty would otherwise keep the saved one (or none) unnoticed.
 */
export function askSecretsAgain(body: unknown, names: readonly string[], errors: Record<string, string>) {
  for (const name of names)
    if (raw((body ?? {}) as Body, name)?.trim())
      errors[name] ??= "not saved: type it again (a secret is never sent back to the browser)";
  return errors;
}

/** Errors no input shows (a field the form does not have): listed at the top of the form. */
function otherErrors(specs: FieldSpec[], errors: Record<string, string>): string[] {
  const shown = new Set(specs.flatMap((s) => [s.name, ...(s.aliases ?? [])]));
  return Object.entries(errors)
    .filter(([k]) => !shown.has(k))
    .map(([k, m]) => (k === "form" ? m : `${k}: ${m}`));
}

/** The status a failed form is answered with: the domain error's (409 for a taken email), else 422. */
export const errorStatus = (err: unknown) => (err instanceof AppError ? statusOf(err.kind) : 422);

/** Who writes when an admin saves a form. */
export const uiActor = (session: SessionInfo): Actor => ({ id: session.user.id, source: "ui" });

/** The id of the element an htmx request will swap into (htmx 4 sends HX-Target as tag#id). */
export function htmxTarget(request: Request): string | null {
  if (request.headers.get("HX-Request") !== "true") return null;
  const target = request.headers.get("HX-Target") ?? "";
  const hash = target.indexOf("#");
  return hash >= 0 ? decodeURI(target.slice(hash + 1)) : null;
}

export const isHtmx = (request: Request) => request.headers.get("HX-Request") === "true";

/** A query string value as one string ("" when absent or repeated oddly). */
export const queryString = (v: unknown) => (typeof v === "string" ? v : "");

type FormOptions = {
  action: string;
  submitLabel: string;
  cancelHref?: string;
  specs: FieldSpec[];
  customSpecs?: FieldSpec[];
  values: Record<string, unknown>;
  errors?: Record<string, string>;
};

/** Everything a record form template needs: inputs with values and errors, the first invalid one focused. */
export function formView(opts: FormOptions) {
  const errors = opts.errors ?? {};
  const fields = fieldViews(opts.specs, opts.values, errors).map((f) => ({ ...f, autofocus: false }));
  const customFields = fieldViews(opts.customSpecs ?? [], opts.values, errors).map((f) => ({ ...f, autofocus: false }));
  const firstInvalid = [...fields, ...customFields].find((f) => f.error);
  if (firstInvalid) firstInvalid.autofocus = true;
  return {
    action: opts.action,
    submitLabel: opts.submitLabel,
    cancelHref: opts.cancelHref ?? null,
    fields,
    customFields,
    otherErrors: otherErrors([...opts.specs, ...(opts.customSpecs ?? [])], errors),
  };
}

/**
 * A record form's POST: `save` writes and says where to go and what to tell. When it throws, the form comes back
 * with what was typed and the errors: alone for htmx (it swaps itself), else inside the whole page (`page`).
 */
export async function submitRecordForm(
  ctx: AppContext,
  request: Request,
  session: SessionInfo,
  body: unknown,
  form: Omit<FormOptions, "values" | "errors">,
  save: () => Promise<{ to: string; message: string }>,
  page: (form: ReturnType<typeof formView>, status: number) => Response | Promise<Response>,
): Promise<Response> {
  try {
    const { to, message } = await save();
    return redirect(request, to, [flashCookie(ctx, { kind: "success", message })]);
  } catch (err) {
    const failed = formView({ ...form, values: typedValues(body), errors: formErrors(err) });
    const status = errorStatus(err);
    return htmxTarget(request) === "record-form"
      ? html(renderFragment("record-form", { form: failed }, session.csrfToken), { status })
      : page(failed, status);
  }
}

/** The submitted strings, to show a form back as it was typed. */
export const typedValues = (body: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((body ?? {}) as Body))
    if (k !== "_csrf") out[k] = Array.isArray(v) ? v.at(-1) : v;
  return out;
};

/** Files of a multipart form as the domain's attachments (base64); an empty file input sends nothing. */
export async function uploadedFiles(
  body: unknown,
  name: string,
): Promise<{ filename: string; content_type: string; data: string }[]> {
  const v = ((body ?? {}) as Body)[name];
  const files = (Array.isArray(v) ? v : [v]).filter((f): f is File => f instanceof File && f.size > 0 && f.name !== "");
  return Promise.all(
    files.map(async (f) => ({
      filename: f.name,
      content_type: f.type.split(";")[0] || "application/octet-stream",
      data: Buffer.from(await f.arrayBuffer()).toString("base64"),
    })),
  );
}

/**
 * "Name: value" lines, as admins type headers. A line without a colon is refused naming `field`;
 * without a field it is kept as a name with an empty value, for the schema to refuse.
 */
export function parseHeaderLines(text: string, field?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const i = line.indexOf(":");
    if (i <= 0 && field)
      throw new ValidationError([{ field, message: `"${line.trim().slice(0, 50)}" is not "Name: value"` }]);
    if (i <= 0) out[line.trim()] = "";
    else out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

export const headerLines = (h: Record<string, string>) =>
  Object.entries(h)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");

/** API field names of headers ("secret_headers.X-Api-Key") → the form field holding them all. */
export const headerField = (field: string) => field.replace(/^((secret_)?headers)\..*$/, "$1");
