import type { Provenance } from "../../db/schema";
import type { CustomField } from "../../domain/custom-fields";
import type { TicketJson } from "../../domain/tickets";
import type { UserSummary } from "../../domain/users";
import type { ChangeEvent } from "../../events/feed";
import { formatTime } from "../../views";

/** How records, values, provenance and events read on the admin pages. */

export function personName(u: Pick<UserSummary, "firstname" | "lastname" | "email" | "login">): string {
  return [u.firstname, u.lastname].filter(Boolean).join(" ") || u.email || u.login;
}

export function displayValue(v: unknown): string {
  if (v === null || v === undefined || v === "") return "";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (Array.isArray(v)) return v.map(displayValue).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export const shortTime = (iso: string | null | undefined) => (iso ? formatTime(new Date(iso)) : "never");

/** An API token or write key as its list shows it: when made, when last used ("never"). */
export const credentialRow = <K extends { createdAt: Date; lastUsedAt: Date | null }>(k: K) => ({
  ...k,
  createdAt: formatTime(k.createdAt),
  lastUsedAt: formatTime(k.lastUsedAt),
});

/** Detail values longer than this are folded. */
const FOLD_AT = 300;

type Entry = { name: string; label: string; value: unknown; href?: string | null };

/** Rows of a details table: each field's value and which source last wrote it, and when. */
export function detailRows(entries: Entry[], provenance: Provenance) {
  return entries.map((e) => {
    const p = provenance[e.name];
    const value = displayValue(e.value);
    return {
      name: e.name,
      label: e.label,
      value,
      // A long value (a 5,000-character note) folds behind "Show all".
      long:
        value.length > FOLD_AT
          ? { preview: `${value.slice(0, FOLD_AT)}…`, chars: value.length.toLocaleString("en-US") }
          : null,
      href: e.href ?? null,
      source: p?.source ?? null,
      at: p ? formatTime(new Date(p.at)) : null,
      iso: p ? new Date(p.at).toISOString() : null,
    };
  });
}

/** Custom fields as detail entries. */
export const customEntries = (fields: CustomField[], record: Record<string, unknown>): Entry[] =>
  fields.map((f) => ({ name: f.name, label: f.label, value: record[f.name] }));

const VERBS: Record<string, string> = { created: "Created", updated: "Updated", deleted: "Deleted" };

/** An object's change events, newest first, as a readable timeline. */
export function timelineEntries(
  events: ChangeEvent[],
  actors: Map<number, UserSummary>,
  labels: Record<string, string> = {},
  format: (field: string, value: unknown) => string = (_, v) => displayValue(v),
) {
  return events.map((e) => {
    const [object, verb = ""] = e.type.split(".");
    const label = object === "article" ? "Article added" : (VERBS[verb] ?? e.type);
    const created = verb === "created";
    const actor = e.actorId !== null ? actors.get(e.actorId) : undefined;
    return {
      label,
      type: e.type,
      source: e.source,
      actor: actor ? personName(actor) : null,
      time: formatTime(e.createdAt),
      iso: e.createdAt.toISOString(),
      changes: Object.entries(e.changes)
        .filter(([, [, to]]) => !(created && (to === null || to === "" || (Array.isArray(to) && !to.length))))
        .slice(0, 30)
        .map(([field, [from, to]]) => ({
          field: labels[field] ?? field,
          from: created || verb === "deleted" ? null : format(field, from) || "(empty)",
          to: format(field, to) || "(empty)",
        })),
    };
  });
}

/** The badge class of a ticket state. */
export const stateBadge = (state: string) => `badge-state-${state}`;

/** A ticket in the ticket list of a person's or an organization's page. */
export const ticketRow = (t: TicketJson) => ({
  id: t.id,
  number: t.number,
  title: t.title,
  state: t.state,
  stateBadge: stateBadge(t.state),
  updated: shortTime(t.updated_at),
});
