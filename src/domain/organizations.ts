import { and, asc, count, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { dialectOf, type Db, type Tx, type DbOrTx } from "../db/client";
import type { Dialect } from "../db/dialect";
import { organizations, tickets, users, type Provenance } from "../db/schema";
import { conflict, notFound, validate, ValidationError } from "../errors";
import type { Actor, EventFeed } from "../events/feed";
import {
  apiValues,
  customValues,
  customValuesShape,
  listCustomFields,
  missingRequired,
  replacementValues,
  schemaWithFields,
  type CustomField,
} from "./custom-fields";
import {
  afterCursor,
  countUpTo,
  decodeCursor,
  diff,
  ftsQuery,
  listDefaults,
  pageOf,
  stamp,
  type ListQuery,
  text,
  type Page,
} from "./records";

export type OrganizationRow = typeof organizations.$inferSelect;

const COLUMN_OF = {
  name: "name",
  domain: "domain",
  domain_assignment: "domainAssignment",
  shared: "shared",
  note: "note",
  active: "active",
} as const satisfies Record<string, keyof OrganizationRow>;
type OrganizationField = keyof typeof COLUMN_OF;

const builtInShape = {
  name: z.string().trim().min(1, "is required").max(255, "must be at most 255 characters").optional(),
  domain: z
    .string()
    .trim()
    .toLowerCase()
    .max(253)
    .regex(
      /^$|^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
      "must be a domain name such as example.com",
    )
    .transform((v) => v || null)
    .nullable()
    .optional(),
  domain_assignment: z.boolean().optional(),
  shared: z.boolean().optional(),
  note: text(10_000),
  active: z.boolean().optional(),
};
/** An organization as a client writes it: these fields plus the custom fields (checked when written). */
export const organizationInputModel = z.object(builtInShape);

const MEMBER_IDS_SHOWN = 1000;

export type OrganizationJson = Awaited<ReturnType<typeof toJsonRows>>[number];

async function toJsonRows(db: DbOrTx, rows: OrganizationRow[], fields: CustomField[]) {
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);
  const counts = new Map(
    (
      await db
        .select({ id: users.organizationId, n: count() })
        .from(users)
        .where(inArray(users.organizationId, ids))
        .groupBy(users.organizationId)
    ).map((r) => [r.id, r.n]),
  );
  return await Promise.all(
    rows.map(async (r) => {
      const custom = customValues(r.custom, fields);
      const members = await db
        .select({ id: users.id })
        .from(users)
        .where(eq(users.organizationId, r.id))
        .orderBy(asc(users.id))
        .limit(MEMBER_IDS_SHOWN);
      return {
        id: r.id,
        name: r.name,
        domain: r.domain,
        domain_assignment: r.domainAssignment,
        shared: r.shared,
        note: r.note,
        active: r.active,
        member_ids: members.map((m) => m.id),
        member_count: counts.get(r.id) ?? 0,
        ...custom,
        created_at: r.createdAt.toISOString(),
        updated_at: r.updatedAt.toISOString(),
        created_by_id: r.createdById,
        updated_by_id: r.updatedById,
      };
    }),
  );
}

export async function organizationJson(db: DbOrTx, row: OrganizationRow, fields?: CustomField[]) {
  fields ??= await listCustomFields(db, "organization");
  return (await toJsonRows(db, [row], fields))[0]!;
}

export async function getOrganizationRow(db: DbOrTx, orgId: number): Promise<OrganizationRow> {
  const row = (await db.select().from(organizations).where(eq(organizations.id, orgId)).limit(1))[0];
  if (!row) throw notFound("organization");
  return row;
}

/** Organization names by id, for records that refer to organizations (null ids skipped). */
export async function organizationNames(db: DbOrTx, ids: (number | null)[]): Promise<Map<number, string>> {
  const wanted = [...new Set(ids.filter((x): x is number => x !== null))];
  if (!wanted.length) return new Map();
  const rows = await db
    .select({ id: organizations.id, name: organizations.name })
    .from(organizations)
    .where(inArray(organizations.id, wanted));
  return new Map(rows.map((o) => [o.id, o.name]));
}

/** Organization names by name, for pickers (at most `limit`). */
export async function organizationNameList(db: DbOrTx, limit: number): Promise<string[]> {
  const rows = await db
    .select({ name: organizations.name })
    .from(organizations)
    .orderBy(sql`lower(${organizations.name})`)
    .limit(limit);
  return rows.map((r) => r.name);
}

export async function findOrganizationByName(db: DbOrTx, name: string): Promise<OrganizationRow | undefined> {
  return (
    await db.select().from(organizations).where(sql`lower(${organizations.name}) = lower(${name.trim()})`).limit(1)
  )[0];
}

export async function findOrganizationByDomain(db: DbOrTx, domain: string): Promise<OrganizationRow | undefined> {
  return (
    await db
      .select()
      .from(organizations)
      .where(eq(organizations.domain, domain.trim().toLowerCase()))
      .orderBy(asc(organizations.id))
      .limit(1)
  )[0];
}

function snapshot(row: OrganizationRow, fields: CustomField[]): Record<string, unknown> {
  return apiValues(row, COLUMN_OF, fields);
}

export async function parseOrganizationInput(db: DbOrTx, input: unknown, fields?: CustomField[]) {
  fields ??= await listCustomFields(db, "organization");
  const schema = schemaWithFields("organization", fields, () =>
    z.strictObject({ ...builtInShape, ...customValuesShape(fields) }),
  );
  return { data: validate(schema, input) as Record<string, unknown>, fields };
}

async function assertNameFree(tx: Tx, name: unknown, exceptId?: number) {
  if (typeof name !== "string") return;
  const clash = await findOrganizationByName(tx, name);
  if (clash && clash.id !== exceptId)
    throw conflict("an organization with this name already exists", [{ field: "name", message: "already taken" }]);
}

async function write(
  tx: Tx,
  row: OrganizationRow,
  changes: Record<string, [unknown, unknown]>,
  fields: CustomField[],
  actor: Actor,
): Promise<OrganizationRow> {
  const set: Record<string, unknown> = {};
  const custom = { ...row.custom };
  for (const [k, [, v]] of Object.entries(changes)) {
    if (k in COLUMN_OF) set[COLUMN_OF[k as OrganizationField]] = v;
    else if (fields.some((f) => f.name === k)) custom[k] = v;
  }
  set.custom = custom;
  set.provenance = stamp(row.provenance, Object.keys(changes), actor.source);
  set.updatedAt = new Date();
  set.updatedById = actor.id;
  return (await tx.update(organizations).set(set).where(eq(organizations.id, row.id)).returning())[0]!;
}

export async function createOrganizationIn(
  tx: Tx,
  feed: EventFeed,
  data: Record<string, unknown>,
  fields: CustomField[],
  actor: Actor,
): Promise<OrganizationRow> {
  if (typeof data.name !== "string") throw new ValidationError([{ field: "name", message: "is required" }]);
  const missing = missingRequired(fields, data);
  if (missing.length) throw new ValidationError(missing);
  await assertNameFree(tx, data.name);
  const row = (
    await tx.insert(organizations).values({ name: data.name, createdById: actor.id, updatedById: actor.id }).returning()
  )[0]!;
  const changes = diff({}, Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)));
  const written = await write(tx, row, changes, fields, actor);
  await feed.record(tx, { type: "organization.created", objectType: "organization", objectId: row.id, changes, actor });
  return written;
}

export async function updateOrganizationIn(
  tx: Tx,
  feed: EventFeed,
  before: OrganizationRow,
  data: Record<string, unknown>,
  fields: CustomField[],
  actor: Actor,
): Promise<OrganizationRow> {
  await assertNameFree(tx, data.name, before.id);
  const target = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined));
  const changes = diff(snapshot(before, fields), target);
  if (!Object.keys(changes).length) return before;
  const row = await write(tx, before, changes, fields, actor);
  await feed.record(tx, {
    type: "organization.updated",
    objectType: "organization",
    objectId: before.id,
    changes,
    actor,
  });
  return row;
}

export async function createOrganization(db: Db, feed: EventFeed, input: unknown, actor: Actor) {
  const { data, fields } = await parseOrganizationInput(db, input);
  return await db.transaction(async (tx) =>
    organizationJson(tx, await createOrganizationIn(tx, feed, data, fields, actor), fields),
  );
}

export async function updateOrganization(db: Db, feed: EventFeed, orgId: number, input: unknown, actor: Actor) {
  const { data, fields } = await parseOrganizationInput(db, input);
  return await db.transaction(async (tx) =>
    organizationJson(
      tx,
      await updateOrganizationIn(tx, feed, await getOrganizationRow(tx, orgId), data, fields, actor),
      fields,
    ),
  );
}

/** What a PUT clears a left-out field to: a new organization's value (the name is required). */
const REPLACED_ORGANIZATION_DEFAULTS: Record<string, unknown> = {
  domain: null,
  domain_assignment: false,
  shared: true,
  note: null,
  active: true,
};

/** PUT: replaces an organization's fields; those left out are cleared to their defaults, the name is required. */
export async function replaceOrganization(db: Db, feed: EventFeed, orgId: number, input: unknown, actor: Actor) {
  const { data, fields } = await parseOrganizationInput(db, input);
  if (typeof data.name !== "string") throw new ValidationError([{ field: "name", message: "is required" }]);
  const values = replacementValues(REPLACED_ORGANIZATION_DEFAULTS, fields, data);
  return await db.transaction(async (tx) =>
    organizationJson(
      tx,
      await updateOrganizationIn(tx, feed, await getOrganizationRow(tx, orgId), values, fields, actor),
      fields,
    ),
  );
}

export async function getOrganization(db: Db, orgId: number) {
  return organizationJson(db, await getOrganizationRow(db, orgId));
}

export async function getOrganizationProvenance(db: Db, orgId: number): Promise<Provenance> {
  return (await getOrganizationRow(db, orgId)).provenance;
}

/**
 * Deletes an organization. Its tickets must move to another organization (`reassignTo`) or the
 * delete is refused (409); its members stay, without an organization (each gets a user.updated event).
 */
export async function deleteOrganization(
  db: Db,
  feed: EventFeed,
  orgId: number,
  actor: Actor,
  opts: { reassignTo?: number } = {},
): Promise<void> {
  const fields = await listCustomFields(db, "organization");
  await db.transaction(async (tx) => {
    const row = await getOrganizationRow(tx, orgId);
    const ticketIds = await tx.select({ id: tickets.id }).from(tickets).where(eq(tickets.organizationId, orgId));
    if (ticketIds.length && opts.reassignTo === undefined) {
      throw conflict(
        `this organization has ${ticketIds.length} ticket(s); pass reassign_to=<organization id> to move them`,
        [{ field: "reassign_to", message: "required: the organization has tickets" }],
      );
    }
    if (ticketIds.length) {
      if (opts.reassignTo === orgId) throw conflict("cannot reassign tickets to the organization being deleted");
      await getOrganizationRow(tx, opts.reassignTo!);
      for (const t of ticketIds) {
        await tx
          .update(tickets)
          .set({ organizationId: opts.reassignTo, updatedAt: new Date(), updatedById: actor.id })
          .where(eq(tickets.id, t.id));
        await feed.record(tx, {
          type: "ticket.updated",
          objectType: "ticket",
          objectId: t.id,
          changes: { organization_id: [orgId, opts.reassignTo] },
          actor,
        });
      }
    }
    const members = await tx
      .update(users)
      .set({ organizationId: null, updatedAt: new Date(), updatedById: actor.id })
      .where(eq(users.organizationId, orgId))
      .returning({ id: users.id });
    for (const m of members)
      await feed.record(tx, {
        type: "user.updated",
        objectType: "user",
        objectId: m.id,
        changes: { organization_id: [orgId, null] },
        actor,
      });
    const before = snapshot(row, fields);
    await tx.delete(organizations).where(eq(organizations.id, orgId));
    await feed.record(tx, {
      type: "organization.deleted",
      objectType: "organization",
      objectId: orgId,
      changes: Object.fromEntries(Object.entries(before).map(([k, v]) => [k, [v, null]])),
      actor,
    });
  });
}

const SORTS = { id: [] as SQL[], name: [sql`lower(${organizations.name})`] };

/** An organizations listing, typed: the API parses its query string into this. */
export type OrganizationListQuery = ListQuery<keyof typeof SORTS> & { q?: string; domain?: string; active?: boolean };

/** The conditions of an organizations listing's filters and search (without its cursor). */
function organizationFilter(dialect: Dialect, p: Pick<OrganizationListQuery, "q" | "domain" | "active">): SQL[] {
  const conds: SQL[] = [];
  const match = p.q ? ftsQuery(p.q) : null;
  if (match) conds.push(dialect.organizationMatches(match));
  if (p.domain) conds.push(eq(organizations.domain, p.domain.trim().toLowerCase()));
  if (p.active !== undefined) conds.push(eq(organizations.active, p.active));
  return conds;
}

/** How many organizations a listing's filters and search match. */
export async function countOrganizations(db: Db, query: Pick<OrganizationListQuery, "q" | "domain" | "active">) {
  const conds = organizationFilter(dialectOf(db), query);
  return countUpTo(db, organizations, conds.length ? and(...conds) : undefined);
}

export async function listOrganizations(db: Db, query: OrganizationListQuery): Promise<Page<OrganizationJson>> {
  const p = { ...query, ...listDefaults(query, "name") };
  const conds = organizationFilter(dialectOf(db), p);
  const keys = [...SORTS[p.sort], sql`${organizations.id}`];
  const descending = p.order === "desc";
  if (p.cursor) conds.push(afterCursor(keys, decodeCursor(p.cursor, keys.length), descending));
  // The sort key comes back from SQLite, so the cursor holds exactly what lower() computed.
  const rows = await db
    .select({ row: organizations, sortKey: sql<string>`lower(${organizations.name})` })
    .from(organizations)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(...keys.map((k) => (descending ? desc(k) : asc(k))))
    .limit(p.limit + 1);
  const page = pageOf(rows, p.limit, (last) => (p.sort === "name" ? [last.sortKey, last.row.id] : [last.row.id]));
  return {
    data: await toJsonRows(
      db,
      page.data.map((r) => r.row),
      await listCustomFields(db, "organization"),
    ),
    next_cursor: page.next_cursor,
  };
}

/**
 * An organization named the way a person types it in a form: an id or a name. Unknown is a ValidationError on `field`.
 */
export async function resolveOrganizationRef(db: Db, ref: string, field: string): Promise<number> {
  const value = ref.trim();
  if (!value) throw new ValidationError([{ field, message: "is required: an organization id or name" }]);
  const row =
    (/^\d{1,15}$/.test(value)
      ? (
          await db
            .select()
            .from(organizations)
            .where(eq(organizations.id, Number(value)))
            .limit(1)
        )[0]
      : undefined) ?? (await findOrganizationByName(db, value));
  if (!row) throw new ValidationError([{ field, message: `no organization with the id or name "${value}"` }]);
  return row.id;
}
