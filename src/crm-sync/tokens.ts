import { organizationNames } from "../domain/organizations";
import { statement, type DbOrTx } from "../db/client";
import type { PersonFields } from "../domain/person-fields";
import { SNAPSHOT_FIELDS } from "../domain/users";

/**
 * The person as CRM templates see them: Deskpro's token names ({{ person.first_name }} ...), custom
 * fields by their names, traits, and the person's extra fields (enrichment's `clearbit_` traits,
 * audience flags) under their own names. `user` is an alias of `person`; `external_id` is the CRM's
 * id read by the Unique ID Path.
 */
export type PersonTokens = Record<string, unknown>;
export type TemplateView = { person: PersonTokens; user: PersonTokens; external_id: string | null };

/** What a person's tokens are built from: a live user (API shape) or the snapshot kept for a delete. */
export type PersonSource = {
  id: number;
  login?: string | null;
  email?: string | null;
  firstname?: string | null;
  lastname?: string | null;
  phone?: string | null;
  mobile?: string | null;
  address?: string | null;
  web?: string | null;
  note?: string | null;
  timezone?: string | null;
  organization?: string | null;
  last_login?: string | null;
  created_at?: string | null;
  updated_at?: string | null;
  traits?: Record<string, unknown> | null;
  /** Custom field values by name. */
  custom?: Record<string, unknown>;
  /** The person's extra fields (PersonFields: clearbit_ traits, audience flags). */
  extra?: Record<string, unknown>;
};

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);

/**
 * Contact details by type: phone/mobile/web columns, then string traits (whatsapp,
 * facebook ...) and a traits.contact object.
 */
function contacts(p: PersonSource): Record<string, string> {
  const out: Record<string, string> = {};
  const traits = p.traits ?? {};
  for (const [k, v] of Object.entries(traits)) if (typeof v === "string" || typeof v === "number") out[k] = String(v);
  const nested = traits.contact;
  if (nested && typeof nested === "object" && !Array.isArray(nested)) {
    for (const [k, v] of Object.entries(nested)) if (typeof v === "string" || typeof v === "number") out[k] = String(v);
  }
  if (p.phone) out.phone = p.phone;
  if (p.mobile) out.mobile = p.mobile;
  if (p.web) out.web = out.website = p.web;
  if (p.email) out.email = p.email;
  return out;
}

export function personTokens(p: PersonSource): PersonTokens {
  const traits = p.traits ?? {};
  return {
    ...(p.custom ?? {}),
    custom: p.custom ?? {},
    ...p.extra,
    id: p.id,
    login: p.login ?? null,
    first_name: p.firstname ?? null,
    last_name: p.lastname ?? null,
    name: [p.firstname, p.lastname].filter(Boolean).join(" ") || null,
    email: p.email ?? null,
    summary: p.note ?? null,
    phone: str(p.phone) ?? str(p.mobile),
    mobile: p.mobile ?? null,
    address: p.address ?? null,
    web: p.web ?? null,
    organizations: p.organization ?? "",
    contact: contacts(p),
    last_logged_in: p.last_login ?? null,
    timezone: p.timezone ?? null,
    created_at: p.created_at ?? null,
    updated_at: p.updated_at ?? null,
    traits,
  };
}

export function templateView(p: PersonSource, externalId: string | null): TemplateView {
  const person = personTokens(p);
  return { person, user: person, external_id: externalId };
}

type PersonRow = {
  id: number;
  login: string;
  email: string | null;
  firstname: string | null;
  lastname: string | null;
  phone: string | null;
  mobile: string | null;
  address: string | null;
  web: string | null;
  note: string | null;
  timezone: string | null;
  last_login: number | null;
  created_at: number;
  updated_at: number;
  custom: string;
  traits: string;
  org_name: string | null;
};
const personStatements = {
  person: statement<PersonRow>(
    `SELECT u.id, u.login, u.email, u.firstname, u.lastname, u.phone, u.mobile, u.address, u.web, u.note,
       u.timezone, u.last_login, u.created_at, u.updated_at, u.custom, u.traits, o.name AS org_name
     FROM users u LEFT JOIN organizations o ON o.id = u.organization_id WHERE u.id = ?`,
  ),
  fields: statement<{ name: string }>("SELECT name FROM custom_fields WHERE object_type = 'user'"),
};
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The token source of a live user (null when the user is gone). Read with two prepared statements:
 * it runs for every call sent (the general userJson costs ten times more). Its SELECT names only the
 * columns tokens use (PersonSource), so it is not the general column list of domain/users.ts.
 */
export async function personSourceOf(
  db: DbOrTx,
  personFields: PersonFields,
  userId: number,
): Promise<PersonSource | null> {
  const r = await personStatements.person.get(db, userId);
  if (!r) return null;
  const stored = JSON.parse(r.custom) as Record<string, unknown>;
  const custom: Record<string, unknown> = {};
  for (const { name } of await personStatements.fields.all(db)) custom[name] = stored[name] ?? null;
  return {
    id: r.id,
    login: r.login,
    email: r.email,
    firstname: r.firstname,
    lastname: r.lastname,
    phone: r.phone,
    mobile: r.mobile,
    address: r.address,
    web: r.web,
    note: r.note,
    timezone: r.timezone,
    organization: r.org_name,
    last_login: iso(r.last_login),
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    traits: JSON.parse(r.traits) as Record<string, unknown>,
    custom,
    extra: (await personFields.of(db, [r.id])).get(r.id),
  };
}

/**
 * The snapshot a delete carries (the row is gone when it is sent): the values the user.deleted
 * event recorded as "before", plus the organization's name.
 */
export async function personSourceFromDeleted(
  db: DbOrTx,
  userId: number,
  changes: Record<string, [unknown, unknown]>,
): Promise<PersonSource> {
  const before: Record<string, unknown> = {};
  for (const [k, [old]] of Object.entries(changes)) before[k] = old;
  const orgId = typeof before.organization_id === "number" ? before.organization_id : null;
  const orgName = orgId ? (await organizationNames(db, [orgId])).get(orgId) : undefined;
  const builtIn = new Set<string>(SNAPSHOT_FIELDS);
  const custom: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(before)) if (!builtIn.has(k)) custom[k] = v;
  const s = (k: string) => (typeof before[k] === "string" ? (before[k] as string) : null);
  return {
    id: userId,
    login: s("login"),
    email: s("email"),
    firstname: s("firstname"),
    lastname: s("lastname"),
    phone: s("phone"),
    mobile: s("mobile"),
    address: s("address"),
    web: s("web"),
    note: s("note"),
    timezone: s("timezone"),
    organization: orgName ?? null,
    traits: (before.traits as Record<string, unknown> | null) ?? {},
    custom,
  };
}

/** A made-up person to check templates against when there is nobody to preview with. */
export const SAMPLE_PERSON: PersonSource = {
  id: 0,
  login: "jane@example.com",
  email: "jane@example.com",
  firstname: "Jane",
  lastname: 'O\'Doe "JD"',
  phone: "+1 555 0100",
  organization: "Example Inc.",
  timezone: "Europe/Berlin",
  note: "Sample person",
  created_at: new Date(0).toISOString(),
  updated_at: new Date(0).toISOString(),
  traits: {},
  custom: {},
};
