import { Elysia } from "elysia";
import { listGroups } from "../../domain/groups";
import { listOrganizations, organizationNames } from "../../domain/organizations";
import { describeUsers, listUsers, type UserJson } from "../../domain/users";
import { notFound } from "../../errors";
import type { NamedDestination } from "../../feature";
import { renderFragment } from "../../views";
import { requireSession } from "../auth";
import type { AppContext } from "../context";
import { html, json } from "../responses";
import { queryString, type FieldSpec } from "./forms";
import { personName } from "./present";

/**
 * Pickers: wherever an admin names a person, an organization, a group or a delivery destination, they search by
 * name and pick; the form still submits the id (`views/partials/picker.mustache`, `/assets/picker.js`).
 */
const PICKER_SOURCES = ["people", "staff", "organizations", "groups", "destinations"] as const;
export type PickerSource = (typeof PICKER_SOURCES)[number];

type PickerOption = { value: string; label: string; detail: string | null };

const SUGGESTIONS = 10;

const ids = (values: string[]) => values.filter((v) => /^\d{1,15}$/.test(v)).map(Number);
const matches = (q: string, ...texts: (string | null)[]) =>
  texts.some((t) => t?.toLowerCase().includes(q.toLowerCase()));
const personOption = (u: UserJson): PickerOption => ({ value: String(u.id), label: personName(u), detail: u.email });

/** Searches and names the records of each source; `destinations` come from the features that send. */
export function pickerSources(ctx: AppContext, destinations: () => Promise<NamedDestination[]>) {
  const { db } = ctx;
  const people = async (q: string, role?: "Admin" | "Agent") =>
    (await listUsers(ctx, { q: q || undefined, role, limit: SUGGESTIONS, sort: "name" })).data.map(personOption);
  const userLabels = async (values: string[]) => {
    const found = await describeUsers(db, ids(values));
    return new Map([...found].map(([id, u]) => [String(id), personName(u)]));
  };
  return {
    people: { search: (q: string) => people(q), labels: userLabels },
    staff: {
      // Owners are admins and agents.
      search: async (q: string) => {
        const both = [...(await people(q, "Admin")), ...(await people(q, "Agent"))];
        const unique = [...new Map(both.map((o) => [o.value, o]))].map(([, o]) => o);
        return unique.sort((a, b) => a.label.localeCompare(b.label)).slice(0, SUGGESTIONS);
      },
      labels: userLabels,
    },
    organizations: {
      search: async (q: string) =>
        (await listOrganizations(db, { q: q || undefined, limit: SUGGESTIONS, sort: "name" })).data.map((o) => ({
          value: String(o.id),
          label: o.name,
          detail: o.domain ?? null,
        })),
      labels: async (values: string[]) =>
        new Map([...(await organizationNames(db, ids(values)))].map(([id, name]) => [String(id), name])),
    },
    groups: {
      search: async (q: string) =>
        (await listGroups(db))
          .filter((g) => matches(q, g.name))
          .slice(0, SUGGESTIONS)
          .map((g) => ({ value: String(g.id), label: g.name, detail: g.active ? null : "inactive" })),
      labels: async (values: string[]) => {
        const wanted = new Set(values);
        return new Map(
          (await listGroups(db)).filter((g) => wanted.has(String(g.id))).map((g) => [String(g.id), g.name]),
        );
      },
    },
    destinations: {
      search: async (q: string) =>
        (await destinations())
          .filter((d) => matches(q, d.name, d.key))
          .slice(0, SUGGESTIONS)
          .map((d) => ({ value: d.key, label: d.name, detail: d.key })),
      labels: async (values: string[]) => {
        const wanted = new Set(values);
        return new Map((await destinations()).filter((d) => wanted.has(d.key)).map((d) => [d.key, d.name]));
      },
    },
  } satisfies Record<
    PickerSource,
    { search(q: string): Promise<PickerOption[]>; labels(values: string[]): Promise<Map<string, string>> }
  >;
}
export type PickerSources = ReturnType<typeof pickerSources>;

/** The search text: `q`, or the picker's own input (`<field>__q`), which htmx sends by its name. */
function searchText(query: Record<string, unknown>): string {
  const own = Object.entries(query).find(([k]) => k.endsWith("__q"));
  return (queryString(query.q) || queryString(own?.[1])).trim().slice(0, 200);
}

/** A GET form's query without its pickers' search texts (`<field>__q`): the filter reads the picked values. */
export const withoutPickerText = (query: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(query).filter(([k]) => !k.endsWith("__q")));

/** GET /pick/:source?q=: suggestions as listbox options (HTML) or, asked for JSON, as {data: [...]}. */
export function pickerRoutes(ctx: AppContext, sources: PickerSources) {
  return new Elysia().get("/pick/:source", async ({ request, params, query }) => {
    const session = await requireSession(ctx, request);
    if (!(PICKER_SOURCES as readonly string[]).includes(params.source)) throw notFound("picker source");
    const q = searchText(query);
    const options = await sources[params.source as PickerSource].search(q);
    if ((request.headers.get("accept") ?? "").includes("application/json")) return json({ data: options });
    const field = queryString(query.field).replace(/[^\w-]/g, "") || "pick";
    return html(
      renderFragment(
        "picker-options",
        { options: options.map((o, i) => ({ ...o, id: `${field}-option-${i}` })), q },
        session.csrfToken,
      ),
    );
  });
}

/** A record's values with the names its pickers show (`<name>__q`, `<name>__labels`), looked up by id. */
export async function withPickedLabels(
  sources: PickerSources,
  specs: FieldSpec[],
  values: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const out = { ...values };
  for (const s of specs) {
    if ((s.kind !== "pick" && s.kind !== "picks") || !s.source) continue;
    const v = values[s.name];
    const chosen = (Array.isArray(v) ? v : v === null || v === undefined ? [] : String(v).split(/[\s,]+/))
      .map(String)
      .filter(Boolean);
    const names = await sources[s.source].labels(chosen);
    if (s.kind === "pick") out[`${s.name}__q`] = chosen[0] ? (names.get(chosen[0]) ?? `#${chosen[0]}`) : "";
    else out[`${s.name}__labels`] = JSON.stringify(chosen.map((c) => names.get(c) ?? `#${c}`));
  }
  return out;
}
