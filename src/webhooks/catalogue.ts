import type { Core } from "../core";
import { listCustomFields } from "../domain/custom-fields";
import { PersonFields } from "../domain/person-fields";
import { recentlyUpdatedUserIds } from "../domain/users";
import { examplePayloads } from "./example-payloads";

/** The events a trigger can fire on (every change of the data model), with what each means. */
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
type TriggerEvent = (typeof TRIGGER_EVENTS)[number];

const DESCRIPTIONS: Record<TriggerEvent, string> = {
  "ticket.created": "A ticket was opened (UI, API or import); the payload carries its first article.",
  "ticket.updated": "A ticket's title, state, priority, group, customer or owner changed.",
  "ticket.deleted": "A ticket was deleted; the payload carries its last values.",
  "article.created": "An article (reply, note, phone call) was added to a ticket; the payload carries both.",
  "user.created": "A person was created (UI, API, CSV import or a Segment identify).",
  "user.updated": "A person's fields, roles, organization or custom fields changed.",
  "user.deleted": "A person was deleted; the payload carries their last values.",
  "user.enriched": "An enrichment lookup (Clearbit) answered for a person; its fields are in the payload.",
  "organization.created": "An organization was created.",
  "organization.updated": "An organization's name, domain, note or custom fields changed.",
  "organization.deleted": "An organization was deleted; the payload carries its last values.",
  "group.created": "A group was created.",
  "group.updated": "A group's name, note, state or members changed.",
  "group.deleted": "A group was deleted.",
};

export type FieldType = "text" | "number" | "boolean" | "time" | "list" | "named";
/** The fixed or known sets a field's values come from (value pickers). */
export type Choices = "states" | "priorities" | "groups" | "organizations" | "roles" | "boolean";
export type CatalogueField = { path: string; type: FieldType; choices: Choices | null; example: string };
export type CatalogueEntry = {
  type: TriggerEvent;
  object: string;
  description: string;
  example: Record<string, unknown>;
  /** Condition fields: every value of the payload by dotted path (an object with a name stands for it). */
  fields: CatalogueField[];
  /** Custom-payload tokens: the fields that render as a value (not an object). */
  tokens: string[];
};

export type SampleKind = "ticket" | "user" | "organization";
/** The event whose example stands for each kind of sample record in previews. */
const SAMPLE_EVENTS: Record<SampleKind, TriggerEvent> = {
  ticket: "ticket.updated",
  user: "user.updated",
  organization: "organization.updated",
};

/** Tokens every custom payload offers besides the event's own fields. */
const TEMPLATE_TOKENS = ["trigger.id", "trigger.name", "webhook.id", "webhook.name"];

/** Keys whose contents vary from record to record: any path below one of them is accepted. */
const OPEN_KEYS = new Set(["traits", "changes"]);
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/;

function choicesOf(path: string, type: FieldType): Choices | null {
  if (type === "boolean") return "boolean";
  const last = path
    .replace(/\.name$/, "")
    .split(".")
    .at(-1);
  if (last === "state") return "states";
  if (last === "priority") return "priorities";
  if (last === "group") return "groups";
  if (last === "organization") return "organizations";
  if (last === "roles") return "roles";
  return null;
}

function typeOf(key: string, v: unknown): FieldType {
  if (Array.isArray(v)) return "list";
  if (typeof v === "boolean") return "boolean";
  if (typeof v === "number" || (v === null && /(^id|_id|_count)$/.test(key))) return "number";
  if ((typeof v === "string" && ISO_TIME.test(v)) || (v === null && /_at$/.test(key))) return "time";
  return "text";
}

const exampleText = (v: unknown) =>
  v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);

/** Every field of a payload by dotted path; lists are one field, objects are walked. */
function payloadFields(data: unknown, prefix = ""): CatalogueField[] {
  if (!data || typeof data !== "object" || Array.isArray(data)) return [];
  const out: CatalogueField[] = [];
  for (const [key, v] of Object.entries(data)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (v && typeof v === "object" && !Array.isArray(v)) {
      if (OPEN_KEYS.has(key)) continue;
      if ("name" in v)
        out.push({ path, type: "named", choices: choicesOf(path, "named"), example: exampleText(v.name) });
      out.push(...payloadFields(v, path));
      continue;
    }
    const type = typeOf(key, v);
    out.push({ path, type, choices: choicesOf(path, type), example: exampleText(v) });
  }
  return out;
}

/** Is the path below a key whose contents vary (user.traits.plan, event.changes.title)? */
const isOpenPath = (path: string) =>
  path
    .split(".")
    .slice(0, -1)
    .some((part) => OPEN_KEYS.has(part));

/**
 * The event catalogue: every event type with its description, an example payload built from sample
 * records by the code that builds real deliveries, and the fields and tokens it offers. The one
 * source of truth for what a trigger condition or a custom payload may name.
 */
export class EventCatalogue {
  private cached: { key: string; entries: CatalogueEntry[] } | null = null;

  constructor(private readonly ctx: Pick<Core, "db" | "personFields" | "config">) {}

  async entries(): Promise<CatalogueEntry[]> {
    const fields = await listCustomFields(this.ctx.db);
    // Fields features add to people (enrichment answers, audience flags) vary: take those of recent people.
    const recent = [...(await this.personFieldsOfRecentPeople())].map(([, fields]) => fields);
    const extras = Object.assign({}, ...recent) as Record<string, unknown>;
    const key = JSON.stringify([fields, Object.keys(extras).sort()]);
    if (this.cached?.key === key) return this.cached.entries;
    const personFields = new PersonFields();
    personFields.add(async (_db, ids) => new Map(ids.map((id) => [id, extras])));
    const examples = await examplePayloads({
      publicUrl: this.ctx.config.publicUrl,
      personFields,
      customFields: fields,
    });
    const entries = TRIGGER_EVENTS.map((type) => {
      const example = examples.get(type) ?? {};
      const all = payloadFields(example);
      return {
        type,
        object: type.split(".")[0]!,
        description: DESCRIPTIONS[type],
        example,
        fields: all,
        tokens: [...all.filter((f) => f.type !== "named").map((f) => f.path), ...TEMPLATE_TOKENS],
      };
    });
    this.cached = { key, entries };
    return entries;
  }

  /** The example payload a custom-payload preview renders for a kind of sample record. */
  async sample(kind: SampleKind): Promise<Record<string, unknown>> {
    const type = SAMPLE_EVENTS[kind];
    return (await this.entries()).find((e) => e.type === type)!.example;
  }

  /** The condition fields the events offer between them (each path once). */
  async fieldsFor(events: readonly string[]): Promise<CatalogueField[]> {
    const byPath = new Map<string, CatalogueField>();
    for (const e of await this.entries())
      if (events.includes(e.type)) for (const f of e.fields) if (!byPath.has(f.path)) byPath.set(f.path, f);
    return [...byPath.values()];
  }

  /** The paths none of the events' payloads has (a typo such as user.emial), in the order given. */
  async unknownPaths(events: readonly string[], paths: readonly string[]): Promise<string[]> {
    const known = new Set((await this.fieldsFor(events)).map((f) => f.path));
    return paths.filter((p) => !known.has(p) && !isOpenPath(p));
  }

  private async personFieldsOfRecentPeople() {
    const ids = await recentlyUpdatedUserIds(this.ctx.db, 200);
    return this.ctx.personFields.of(this.ctx.db, ids);
  }
}
