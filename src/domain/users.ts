import { and, asc, desc, eq, gt, gte, inArray, or, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { dialectOf, sqlAll, type Db, type DbOrTx, type Tx } from "../db/client";
import { ftsWords, nameWordsOf } from "../db/fts-words";
import { preparedFor } from "../db/prepared";
import { groups, organizations, tickets, userGroups, userRoles, users, type Provenance } from "../db/schema";
import { AppError, conflict, notFound, validate, ValidationError } from "../errors";
import type { Actor, EventFeed } from "../events/feed";
import { afterAccountChange, assertNotLastActiveAdmin, checkAccountChange, endAdminAccess } from "./admin-access";
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
import type { Core } from "../core";
import { organizationNames } from "./organizations";
import type { PersonFields } from "./person-fields";
import { CUSTOMER_ROLE_ID, ROLE_ID_CHOICES, ROLE_IDS, ROLE_NAMES, roleName, type RoleName } from "./roles";
import {
  afterCursor,
  boundedJsonObject,
  countRowsUpTo,
  countUpTo,
  decodeCursor,
  diff,
  ftsQuery,
  id,
  isoOrNull,
  listDefaults,
  pageOf,
  stamp,
  type ListQuery,
  text,
  type Page,
} from "./records";

export type UserRow = typeof users.$inferSelect;

/**
 * The one list of a person's columns: those a client may write, by their API names (snake_case, as
 * Zammad names them) and their row keys. The API shape, snapshots, PUT defaults, CSV columns, audience
 * profiles and Clearbit mappings derive from it.
 */
export const COLUMN_OF = {
  login: "login",
  email: "email",
  firstname: "firstname",
  lastname: "lastname",
  phone: "phone",
  mobile: "mobile",
  address: "address",
  web: "web",
  note: "note",
  image: "image",
  organization_id: "organizationId",
  vip: "vip",
  verified: "verified",
  out_of_office: "outOfOffice",
  timezone: "timezone",
  active: "active",
} as const satisfies Record<string, keyof UserRow>;
export type UserField = keyof typeof COLUMN_OF;
export const USER_FIELDS = Object.keys(COLUMN_OF) as UserField[];
/** What a user's snapshot (and so a user event's changes) holds besides custom fields: see snapshot(). */
export const SNAPSHOT_FIELDS = [...USER_FIELDS, "role_ids", "group_ids", "traits"] as const;

const email = z
  .string()
  .trim()
  .max(254, "must be at most 254 characters")
  .pipe(z.email("must be a valid email address"))
  .transform((v) => v.toLowerCase())
  .nullable()
  .optional();

const builtInShape = {
  login: z.string().trim().min(1, "must not be empty").max(255, "must be at most 255 characters").optional(),
  email,
  firstname: text(150),
  lastname: text(150),
  phone: text(100),
  mobile: text(100),
  address: text(1000),
  web: text(1000),
  note: text(10_000),
  image: text(2000),
  organization_id: id.nullable().optional(),
  /** An organization by name (Zammad accepts this too); it must exist. */
  organization: z.string().trim().min(1).max(255).nullable().optional(),
  vip: z.boolean().optional(),
  verified: z.boolean().optional(),
  out_of_office: z.boolean().optional(),
  timezone: text(64),
  active: z.boolean().optional(),
  // A person always has a role: an empty list is refused rather than leaving them with none.
  roles: z.array(z.enum(ROLE_NAMES)).min(1, "must name at least one role").max(3).optional(),
  role_ids: z
    .array(z.literal(Object.values(ROLE_IDS), `must be ${ROLE_ID_CHOICES}`))
    .min(1, "must name at least one role")
    .max(3)
    .optional(),
  group_ids: z.array(id).max(1000).optional(),
  traits: boundedJsonObject.optional(),
};

/** A person as a client writes it: these fields plus the custom fields (checked when written). */
export const userInputModel = z.object(builtInShape);

export type UserInput = { [K in keyof typeof builtInShape]?: z.infer<(typeof builtInShape)[K]> } & Record<
  string,
  unknown
>;

function inputSchema(fields: CustomField[]) {
  return schemaWithFields("user", fields, () => z.strictObject({ ...builtInShape, ...customValuesShape(fields) }));
}

export type UserJson = Awaited<ReturnType<typeof toJsonRows>>[number];

/**
 * Users as the API, webhooks and CRM templates see them: Zammad's field names, custom fields flat.
 * The columns are spelled out (not looped over COLUMN_OF) for Zammad's key order and one object shape
 * on this hot path; a unit test checks that every column of COLUMN_OF is here.
 */
async function toJsonRows(db: DbOrTx, rows: UserRow[], fields: CustomField[], personFields: PersonFields) {
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);
  // Independent reads, sent together: on PostgreSQL they share one round trip (postgres.js pipelines).
  const [{ roleRows, groupRows }, orgNames, extras] = await Promise.all([
    memberships(db, ids),
    organizationNames(
      db,
      rows.map((r) => r.organizationId),
    ),
    personFields.of(db, ids),
  ]);
  return rows.map((r) => {
    const extra = extras.get(r.id);
    const roleIds = roleRows.filter((x) => x.userId === r.id).map((x) => x.roleId);
    const custom = customValues(r.custom, fields);
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
      image: r.image,
      organization_id: r.organizationId,
      organization: r.organizationId ? (orgNames.get(r.organizationId) ?? null) : null,
      vip: r.vip,
      verified: r.verified,
      out_of_office: r.outOfOffice,
      timezone: r.timezone,
      last_login: isoOrNull(r.lastLogin),
      last_seen_at: isoOrNull(r.lastSeenAt),
      active: r.active,
      role_ids: roleIds,
      roles: roleIds.map(roleName),
      group_ids: groupRows.filter((x) => x.userId === r.id).map((x) => x.groupId),
      ...custom,
      ...extra,
      traits: r.traits,
      created_at: r.createdAt.toISOString(),
      updated_at: r.updatedAt.toISOString(),
      created_by_id: r.createdById,
      updated_by_id: r.updatedById,
    };
  });
}

/** One person's memberships (the API's and payloads' hot path): prepared, built once per connection. */
const membershipsOfOne = preparedFor((db) => ({
  roles: db
    .select({ userId: userRoles.userId, roleId: userRoles.roleId })
    .from(userRoles)
    .where(eq(userRoles.userId, sql.placeholder("id")))
    .orderBy(asc(userRoles.roleId))
    .prepare(),
  groups: db
    .select({ userId: userGroups.userId, groupId: userGroups.groupId })
    .from(userGroups)
    .where(eq(userGroups.userId, sql.placeholder("id")))
    .orderBy(asc(userGroups.groupId))
    .prepare(),
}));

/** Role and group memberships of these people, ordered by role and group id. */
async function memberships(db: DbOrTx, ids: number[]) {
  if (ids.length === 1) {
    const one = membershipsOfOne(db);
    const [roleRows, groupRows] = await Promise.all([
      one.roles.execute({ id: ids[0] }),
      one.groups.execute({ id: ids[0] }),
    ]);
    return { roleRows, groupRows };
  }
  const [roleRows, groupRows] = await Promise.all([
    db
      .select({ userId: userRoles.userId, roleId: userRoles.roleId })
      .from(userRoles)
      .where(inArray(userRoles.userId, ids))
      .orderBy(asc(userRoles.roleId)),
    db
      .select({ userId: userGroups.userId, groupId: userGroups.groupId })
      .from(userGroups)
      .where(inArray(userGroups.userId, ids))
      .orderBy(asc(userGroups.groupId)),
  ]);
  return { roleRows, groupRows };
}

export async function userJson(db: DbOrTx, personFields: PersonFields, row: UserRow, fields?: CustomField[]) {
  fields ??= await listCustomFields(db, "user");
  return (await toJsonRows(db, [row], fields, personFields))[0]!;
}

/** The person's row, or undefined. */
export async function findUserById(db: DbOrTx, userId: number): Promise<UserRow | undefined> {
  return (await lookups(db).byId.execute({ id: userId }))[0];
}

export async function getUserRow(db: DbOrTx, userId: number): Promise<UserRow> {
  const row = await findUserById(db, userId);
  if (!row) throw notFound("user");
  return row;
}

/** Every column a new user row gets, so one prepared INSERT serves every create (bulk loads run it a million times). */
const NEW_USER_DEFAULTS: Record<string, unknown> = {
  nameWords: null,
  email: null,
  firstname: null,
  lastname: null,
  phone: null,
  mobile: null,
  address: null,
  web: null,
  note: null,
  image: null,
  organizationId: null,
  vip: false,
  verified: false,
  outOfOffice: false,
  timezone: null,
  lastLogin: null,
  lastSeenAt: null,
  passwordHash: null,
  active: true,
  custom: {},
  traits: {},
  provenance: {},
  createdById: null,
  updatedById: null,
};

const writes = preparedFor((tx: Tx) => ({
  insertUser: tx
    .insert(users)
    .values(
      Object.fromEntries(
        ["login", "createdAt", "updatedAt", ...Object.keys(NEW_USER_DEFAULTS)].map((k) => [k, sql.placeholder(k)]),
      ) as unknown as typeof users.$inferInsert,
    )
    .returning()
    .prepare(),
  insertRole: tx
    .insert(userRoles)
    .values({ userId: sql.placeholder("userId"), roleId: sql.placeholder("roleId") })
    .prepare(),
}));

const lookups = preparedFor((db) => ({
  byId: db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder("id")))
    .limit(1)
    .prepare(),
  byEmail: db
    .select()
    .from(users)
    .where(eq(users.email, sql.placeholder("email")))
    .prepare(),
  byEmailOrLogin: db
    .select()
    .from(users)
    .where(or(eq(users.email, sql.placeholder("email")), eq(users.login, sql.placeholder("login"))))
    .limit(2)
    .prepare(),
  // For modules that act per person on hot paths (the CRM planner on every user event).
  exists: db
    .select({ id: users.id })
    .from(users)
    .where(eq(users.id, sql.placeholder("id")))
    .prepare(),
  organizationOf: db
    .select({ org: users.organizationId })
    .from(users)
    .where(eq(users.id, sql.placeholder("id")))
    .prepare(),
  roleIds: db
    .select({ roleId: userRoles.roleId })
    .from(userRoles)
    .where(eq(userRoles.userId, sql.placeholder("userId")))
    .prepare(),
  idsAfter: db
    .select({ id: users.id })
    .from(users)
    .where(gt(users.id, sql.placeholder("after")))
    .orderBy(asc(users.id))
    .limit(sql.placeholder("limit"))
    .prepare(),
}));

export async function userExists(db: DbOrTx, userId: number): Promise<boolean> {
  return (await lookups(db).exists.execute({ id: userId }))[0] !== undefined;
}

/** The person's organization id; null without one (or without the person). */
export async function organizationIdOf(db: DbOrTx, userId: number): Promise<number | null> {
  return (await lookups(db).organizationOf.execute({ id: userId }))[0]?.org ?? null;
}

/** The person's role ids ([] without the person). */
export async function roleIdsOf(db: DbOrTx, userId: number): Promise<number[]> {
  return (await lookups(db).roleIds.execute({ userId })).map((r) => r.roleId);
}

/** A batch of user ids in id order, after `afterId` (keyset walking over everyone). */
export async function userIdsAfter(db: DbOrTx, afterId: number, limit: number): Promise<number[]> {
  return (await lookups(db).idsAfter.execute({ after: afterId, limit })).map((r) => r.id);
}

/** The people changed most recently (users_updated_idx), newest first. */
export async function recentlyUpdatedUserIds(db: DbOrTx, limit: number): Promise<number[]> {
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .orderBy(desc(users.updatedAt), desc(users.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

export async function findUserByEmail(db: DbOrTx, address: string): Promise<UserRow | undefined> {
  return (await lookups(db).byEmail.execute({ email: address.trim().toLowerCase() }))[0];
}

/** The person with this email and the one with this login (often the same, or nobody), in one query. */
export async function findUsersByEmailOrLogin(
  db: DbOrTx,
  address: string | undefined,
  login: string | undefined,
): Promise<{ byEmail?: UserRow; byLogin?: UserRow }> {
  if (address === undefined && login === undefined) return {};
  const email = address?.trim().toLowerCase() ?? null;
  const rows = await lookups(db).byEmailOrLogin.execute({ email, login: login ?? null });
  return {
    byEmail: email === null ? undefined : rows.find((r) => r.email === email),
    byLogin: login === undefined ? undefined : rows.find((r) => r.login === login),
  };
}

/** The writable state of a user in API names: what diffs and events compare. */
async function snapshot(
  db: DbOrTx,
  row: UserRow,
  fields: CustomField[],
  only?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const out = apiValues(row, COLUMN_OF, fields);
  // Memberships cost a query each: read only when the caller compares them.
  if (!only || "role_ids" in only)
    out.role_ids = (
      await db
        .select({ id: userRoles.roleId })
        .from(userRoles)
        .where(eq(userRoles.userId, row.id))
        .orderBy(asc(userRoles.roleId))
    ).map((r) => r.id);
  if (!only || "group_ids" in only)
    out.group_ids = (
      await db
        .select({ id: userGroups.groupId })
        .from(userGroups)
        .where(eq(userGroups.userId, row.id))
        .orderBy(asc(userGroups.groupId))
    ).map((r) => r.id);
  out.traits = row.traits;
  return out;
}

/** One input as resolveInputs turns it into target values; a bad reference throws its ValidationError. */
async function resolveInput(
  tx: Tx,
  data: Record<string, unknown>,
  fields: CustomField[],
): Promise<Record<string, unknown>> {
  const [target] = await resolveInputs(tx, [data], fields);
  if (target instanceof ValidationError) throw target;
  return target!;
}

async function assertUnique(tx: Tx, values: Record<string, unknown>, exceptId?: number) {
  const taken = (row: UserRow | undefined) => row !== undefined && row.id !== exceptId;
  const { byEmail, byLogin } = await findUsersByEmailOrLogin(
    tx,
    typeof values.email === "string" ? values.email : undefined,
    typeof values.login === "string" ? values.login : undefined,
  );
  if (taken(byEmail))
    throw conflict("a user with this email already exists", [{ field: "email", message: "already taken" }]);
  if (taken(byLogin))
    throw conflict("a user with this login already exists", [{ field: "login", message: "already taken" }]);
}

/** Writes target values onto a user row (columns, custom JSON, roles, groups, traits, provenance). */
/**
 * The column values that carry `changes` (fields, custom JSON, traits, provenance, audit), from a row's current state.
 */
function columnsFor(
  current: { custom: Record<string, unknown>; provenance: Provenance },
  changes: Record<string, [unknown, unknown]>,
  fields: CustomField[],
  actor: Actor,
): Partial<UserRow> {
  const set: Record<string, unknown> = {};
  const custom = { ...current.custom };
  let customChanged = false;
  for (const [k, [, v]] of Object.entries(changes)) {
    if (k in COLUMN_OF) set[COLUMN_OF[k as UserField]] = v;
    else if (fields.some((f) => f.name === k)) {
      custom[k] = v;
      customChanged = true;
    }
  }
  if (customChanged) set.custom = custom;
  if (changes.traits) set.traits = changes.traits[1];
  const provenanceFields = Object.keys(changes).filter((k) => k !== "traits" && k !== "role_ids" && k !== "group_ids");
  if (provenanceFields.length) set.provenance = stamp(current.provenance, provenanceFields, actor.source);
  set.updatedAt = new Date();
  set.updatedById = actor.id;
  return set as Partial<UserRow>;
}

/** Replaces role and group memberships named in `changes`. */
async function writeMemberships(tx: Tx, userId: number, changes: Record<string, [unknown, unknown]>): Promise<void> {
  if (changes.role_ids) {
    if (changes.role_ids[0] !== null) await tx.delete(userRoles).where(eq(userRoles.userId, userId));
    for (const roleId of changes.role_ids[1] as number[]) await writes(tx).insertRole.execute({ userId, roleId });
  }
  if (changes.group_ids) {
    await tx.delete(userGroups).where(eq(userGroups.userId, userId));
    const ids = changes.group_ids[1] as number[];
    if (ids.length) await tx.insert(userGroups).values(ids.map((groupId) => ({ userId, groupId })));
  }
}

/** Creates a user inside an open transaction (the identify and import paths batch many). */
export async function createUserIn(
  tx: Tx,
  feed: EventFeed,
  data: Record<string, unknown>,
  fields: CustomField[],
  actor: Actor,
  extra: Partial<UserRow> = {},
): Promise<UserRow> {
  const target = await resolveInput(tx, data, fields);
  const login = (target.login as string | undefined) ?? (target.email as string | undefined);
  if (!login) throw new ValidationError([{ field: "email", message: "a user needs an email or a login" }]);
  target.login = login;
  const missing = missingRequired(fields, target);
  if (missing.length) throw new ValidationError(missing);
  await assertUnique(tx, target);
  target.role_ids ??= [CUSTOMER_ROLE_ID];
  const changes = diff({}, target);
  const columns = columnsFor({ custom: {}, provenance: {} }, changes, fields, actor);
  const now = new Date();
  const values: Record<string, unknown> = {
    ...NEW_USER_DEFAULTS,
    createdAt: now,
    ...columns,
    updatedAt: now,
    login,
    createdById: actor.id,
    ...extra,
  };
  values.nameWords = nameWordsOf(values);
  const row = (await writes(tx).insertUser.execute(values))[0]!;
  await writeMemberships(tx, row.id, changes);
  await afterAccountChange(tx, row.id, changes);
  await feed.record(tx, { type: "user.created", objectType: "user", objectId: row.id, changes, actor });
  return row;
}

/**
 * UPDATE … RETURNING of the given columns, prepared once per set of columns: a person's updates change
 * few column sets (a name, an email with provenance), and building the statement costs more than running it.
 */
const updateByColumns = preparedFor((_tx: Tx) => new Map<string, ReturnType<typeof prepareUpdate>>());
function prepareUpdate(tx: Tx, columns: string[]) {
  const set = Object.fromEntries(columns.map((c) => [c, sql.placeholder(c)])) as Partial<UserRow>;
  return tx
    .update(users)
    .set(set)
    .where(eq(users.id, sql.placeholder("__id")))
    .returning()
    .prepare();
}
async function updateColumns(tx: Tx, userId: number, values: Partial<UserRow>): Promise<UserRow> {
  const columns = Object.keys(values).sort();
  const byColumns = updateByColumns(tx);
  const key = columns.join(",");
  let update = byColumns.get(key);
  if (!update) {
    if (byColumns.size >= 200) byColumns.clear();
    byColumns.set(key, (update = prepareUpdate(tx, columns)));
  }
  return (await update.execute({ ...values, __id: userId }))[0]!;
}

/** The columns users.name_words is made of (a write of any of them writes the words too). */
const SEARCHED_COLUMNS = ["email", "firstname", "lastname", "login"] as const;

/** Applies changes inside an open transaction; no event (and no write) when nothing changes. */
export async function updateUserIn(
  tx: Tx,
  feed: EventFeed,
  before: UserRow,
  data: Record<string, unknown>,
  fields: CustomField[],
  actor: Actor,
  extra: Partial<UserRow> = {},
): Promise<UserRow> {
  const target = await resolveInput(tx, data, fields);
  await assertUnique(tx, target, before.id);
  const changes = diff(await snapshot(tx, before, fields, target), target);
  if (!Object.keys(changes).length) {
    return Object.keys(extra).length
      ? (await tx.update(users).set(extra).where(eq(users.id, before.id)).returning())[0]!
      : before;
  }
  await checkAccountChange(tx, before.id, changes);
  const columns = { ...columnsFor(before, changes, fields, actor), ...extra };
  if (SEARCHED_COLUMNS.some((c) => c in columns)) columns.nameWords = nameWordsOf({ ...before, ...columns });
  const row = await updateColumns(tx, before.id, columns);
  await writeMemberships(tx, before.id, changes);
  await afterAccountChange(tx, before.id, changes);
  await feed.record(tx, { type: "user.updated", objectType: "user", objectId: before.id, changes, actor });
  return row;
}

export async function parseUserInput(
  db: DbOrTx,
  input: unknown,
  fields?: CustomField[],
): Promise<{ data: UserInput; fields: CustomField[] }> {
  fields ??= await listCustomFields(db, "user");
  return { data: validate(inputSchema(fields), input) as UserInput, fields };
}

/** What the user functions below need of the core. */
export type PeopleContext = Pick<Core, "db" | "events" | "personFields">;

/**
 * The REST and admin writes of a person validate inside their transaction: the custom fields are read
 * on the write connection (the read connection's page cache is dropped by every commit) and are the
 * ones the write sees.
 */
export async function createUser({ db, events, personFields }: PeopleContext, input: unknown, actor: Actor) {
  return await db.transaction(async (tx) => {
    const { data, fields } = await parseUserInput(tx, input);
    return await userJson(tx, personFields, await createUserIn(tx, events, data, fields, actor), fields);
  });
}

export async function updateUser(
  { db, events, personFields }: PeopleContext,
  userId: number,
  input: unknown,
  actor: Actor,
) {
  return await db.transaction(async (tx) => {
    const { data, fields } = await parseUserInput(tx, input);
    return await userJson(
      tx,
      personFields,
      await updateUserIn(tx, events, await getUserRow(tx, userId), data, fields, actor),
      fields,
    );
  });
}

/**
 * What a PUT clears a left-out field to: a new person's value. Login and roles are not here: a person always has both.
 */
const REPLACED_USER_DEFAULTS: Record<string, unknown> = {
  ...Object.fromEntries(USER_FIELDS.filter((f) => f !== "login").map((f) => [f, NEW_USER_DEFAULTS[COLUMN_OF[f]]])),
  group_ids: [],
  traits: {},
};

/**
 * PUT: replaces a person's writable fields. Fields left out are cleared to their defaults (custom
 * fields to empty, so required ones must be sent); the login and roles change only when given.
 */
export async function replaceUser(
  { db, events, personFields }: PeopleContext,
  userId: number,
  input: unknown,
  actor: Actor,
) {
  return await db.transaction(async (tx) => {
    const { data, fields } = await parseUserInput(tx, input);
    const values = replacementValues(REPLACED_USER_DEFAULTS, fields, data);
    return await userJson(
      tx,
      personFields,
      await updateUserIn(tx, events, await getUserRow(tx, userId), values, fields, actor),
      fields,
    );
  });
}

/** Creates or updates the user with this email (the email is the join key). */
export async function upsertUserByEmail(
  { db, events, personFields }: PeopleContext,
  address: string,
  input: unknown,
  actor: Actor,
) {
  return await db.transaction(async (tx) => {
    const { data, fields } = await parseUserInput(tx, { ...(input as object), email: address });
    const existing = await findUserByEmail(tx, data.email as string);
    const row = existing
      ? await updateUserIn(tx, events, existing, data, fields, actor)
      : await createUserIn(tx, events, data, fields, actor);
    return { user: await userJson(tx, personFields, row, fields), created: !existing };
  });
}

/**
 * Deletes a user. One who is a ticket's customer or owner is refused (409) unless `reassignTo`
 * names another user, who then takes those tickets over; nothing is left pointing at nobody.
 */
export async function deleteUser(
  db: Db,
  feed: EventFeed,
  userId: number,
  actor: Actor,
  opts: { reassignTo?: number } = {},
): Promise<void> {
  const fields = await listCustomFields(db, "user");
  await db.transaction(async (tx) => {
    const row = await getUserRow(tx, userId);
    await assertNotLastActiveAdmin(tx, userId);
    const owned = await tx
      .select({ id: tickets.id, customerId: tickets.customerId, ownerId: tickets.ownerId })
      .from(tickets)
      .where(sql`${tickets.customerId} = ${userId} OR ${tickets.ownerId} = ${userId}`);
    if (owned.length && opts.reassignTo === undefined) {
      throw conflict(
        `this user has ${owned.length} ticket(s); pass reassign_to=<user id> to hand them to someone else`,
        [{ field: "reassign_to", message: "required: the user has tickets" }],
      );
    }
    if (owned.length) {
      if (opts.reassignTo === userId) throw conflict("cannot reassign tickets to the user being deleted");
      const heir = await getUserRow(tx, opts.reassignTo!);
      for (const t of owned) {
        const changes: Record<string, [unknown, unknown]> = {};
        const set: Partial<typeof tickets.$inferInsert> = { updatedAt: new Date(), updatedById: actor.id };
        if (t.customerId === userId) {
          set.customerId = heir.id;
          set.organizationId = heir.organizationId;
          changes.customer_id = [userId, heir.id];
        }
        if (t.ownerId === userId) {
          set.ownerId = heir.id;
          changes.owner_id = [userId, heir.id];
        }
        await tx.update(tickets).set(set).where(eq(tickets.id, t.id));
        await feed.record(tx, { type: "ticket.updated", objectType: "ticket", objectId: t.id, changes, actor });
      }
    }
    const before = await snapshot(tx, row, fields);
    await endAdminAccess(tx, userId);
    await tx.delete(users).where(eq(users.id, userId));
    const changes = Object.fromEntries(Object.entries(before).map(([k, v]) => [k, [v, null] as [unknown, unknown]]));
    await feed.record(tx, { type: "user.deleted", objectType: "user", objectId: userId, changes, actor });
  });
}

export async function getUser({ db, personFields }: Pick<Core, "db" | "personFields">, userId: number) {
  return userJson(db, personFields, await getUserRow(db, userId));
}

export async function getUserProvenance(db: Db, userId: number): Promise<Provenance> {
  return (await getUserRow(db, userId)).provenance;
}

const SORTS = {
  id: [] as SQL[],
  name: [sql`coalesce(${users.lastname}, '')`, sql`coalesce(${users.firstname}, '')`],
  email: [sql`coalesce(${users.email}, '')`],
  created_at: [sql`${users.createdAt}`],
  updated_at: [sql`${users.updatedAt}`],
  last_seen_at: [sql`coalesce(${users.lastSeenAt}, 0)`],
};
export type UserSort = keyof typeof SORTS;

export const USER_SORTS = Object.keys(SORTS) as [UserSort, ...UserSort[]];

/** A users listing, typed: the API parses its query string into this (records/models.ts). */
export type UserListQuery = ListQuery<UserSort> & {
  q?: string;
  organization_id?: number;
  role?: (typeof ROLE_NAMES)[number];
  group_id?: number;
  active?: boolean;
  vip?: boolean;
  email?: string;
  updated_since?: Date;
  seen_since?: Date;
};

/**
 * The conditions of a users listing's filters and search (without its cursor); `sortMatches` when a walk of
 * the sort index has already found the matches too sparse there (the search then sorts its matches).
 */
async function userFilter(
  db: Db,
  p: Omit<UserListQuery, "sort" | "order" | "cursor" | "limit">,
  sortMatches = false,
): Promise<SQL[]> {
  const conds: SQL[] = [];
  const search = p.q ? searchKind(p.q) : null;
  if (search) conds.push((await searchCondition(db, search, sortMatches)).condition);
  if (p.organization_id) conds.push(eq(users.organizationId, p.organization_id));
  if (p.role) conds.push(sql`${users.id} IN (SELECT user_id FROM user_roles WHERE role_id = ${ROLE_IDS[p.role]})`);
  if (p.group_id) conds.push(sql`${users.id} IN (SELECT user_id FROM user_groups WHERE group_id = ${p.group_id})`);
  if (p.active !== undefined) conds.push(eq(users.active, p.active));
  if (p.vip !== undefined) conds.push(eq(users.vip, p.vip));
  if (p.email) conds.push(eq(users.email, p.email.trim().toLowerCase()));
  if (p.updated_since) conds.push(gte(users.updatedAt, p.updated_since));
  if (p.seen_since) conds.push(gte(users.lastSeenAt, p.seen_since));
  return conds;
}

/** How many users a listing's filters and search match (the admin list's "of 5,000 people"). */
export async function countUsers(db: Db, query: Omit<UserListQuery, "sort" | "order" | "cursor" | "limit">) {
  // A search alone (the admin list's typeahead) is counted from its own index, which stops at the cap,
  // rather than by checking users rows against the whole match set.
  const ids = await searchAloneIds(db, query);
  if (ids) return countRowsUpTo(db, ids);
  const conds = await userFilter(db, query);
  return countUpTo(db, users, conds.length ? and(...conds) : undefined);
}

/**
 * Lists users with filters, full-text search (email, names, login, organization name) and keyset
 * pagination on an indexed sort, so page 1000 costs what page 1 costs.
 */
export async function listUsers(
  { db, personFields }: Pick<Core, "db" | "personFields">,
  query: UserListQuery,
): Promise<Page<UserJson>> {
  const p = { ...query, ...listDefaults(query, "id") };
  const keys = [...SORTS[p.sort], sql`${users.id}`];
  const descending = p.order === "desc";
  const after = p.cursor ? decodeCursor(p.cursor, keys.length) : null;
  const alone = p.sort === "id" ? await searchAloneIds(db, p) : null;
  const walked = p.sort === "name" ? await walkNameIndex(db, p, keys, after, descending) : undefined;
  // By id, a search alone reads its own index in id order and stops after a page (FTS5 keeps rowid order);
  // by name, it walks the name index (walkNameIndex), and when that finds too few, sorts its matches.
  const conds = alone
    ? [sql`${users.id} IN (${idPage(alone, after, descending, p.limit + 1)})`]
    : walked
      ? [inArray(users.id, walked.ids)]
      : await userFilter(db, p, walked === null);
  if (after) conds.push(afterCursor(keys, after, descending));
  const rows = await db
    .select()
    .from(users)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(...keys.map((k) => (descending ? desc(k) : asc(k))))
    .limit(p.limit + 1);
  const page = pageOf(rows, p.limit, (last) => sortValues(p.sort, last));
  return {
    data: await toJsonRows(db, page.data, await listCustomFields(db, "user"), personFields),
    next_cursor: page.next_cursor,
  };
}

/** The first `n` of `ids` (a subquery with a column `id`) in id order, after a cursor. */
const idPage = (ids: SQL, after: unknown[] | null, descending: boolean, n: number) =>
  sql`SELECT id FROM (${ids}) AS matching WHERE ${after ? afterCursor([sql`id`], after, descending) : sql`true`}
    ORDER BY id ${descending ? sql`DESC` : sql`ASC`} LIMIT ${n}`;

/** Above this many matches a search counts as broad. */
export const BROAD_SEARCH = 2000;

/**
 * How a search finds its people, from what was typed: email-shaped input by the email index (the
 * exact address, else addresses starting with it), a domain fragment ("@acme", "acme.com") by the
 * email-domain index, anything else by words in the full-text index. Splitting an email into words
 * would make "com" and "example", found in most rows, drive the plan.
 */
export type SearchKind =
  | { kind: "email"; address: string }
  | { kind: "domain"; prefix: string }
  | { kind: "email-or-domain"; prefix: string }
  | { kind: "words"; match: string };

const EMAILISH = /^[\p{L}\p{N}._%+'-]*@?[\p{L}\p{N}.-]*$/u;

export function searchKind(input: string): SearchKind | null {
  const q = input.trim().toLowerCase();
  if (!/\s/.test(q) && EMAILISH.test(q)) {
    const at = q.indexOf("@");
    if (at > 0) return { kind: "email", address: q };
    if (at === 0 && q.length > 1) return { kind: "domain", prefix: q.slice(1) };
    // A dotted word ("acme.com", "john.smith") starts a domain or an address.
    if (at < 0 && /[^.]\.[^.]/.test(q)) return { kind: "email-or-domain", prefix: q };
  }
  const match = ftsQuery(q);
  return match ? { kind: "words", match } : null;
}

/** The ids a search matches, as a subquery each kind of input answers from its own index (db/*-search.ts). */
async function matchingIds(db: Db, kind: SearchKind): Promise<SQL> {
  const exactEmail = kind.kind === "email" && (await findUserByEmail(db, kind.address)) !== undefined;
  return dialectOf(db).peopleMatching(kind, exactEmail);
}

/**
 * When a listing's only filter is a search: its matching ids, each person once (a column `id`), as a
 * subquery that reads the search's own index in id order; null otherwise, or when words also match an
 * organization (its members would then be listed apart from the people the words find).
 */
async function searchAloneIds(db: Db, query: UserListQuery) {
  const { q, sort, order, cursor, limit, ...filters } = query;
  const kind = q ? searchKind(q) : null;
  if (!kind || Object.values(filters).some((v) => v !== undefined)) return null;
  if (kind.kind !== "words") return matchingIds(db, kind);
  const dialect = dialectOf(db);
  const orgs = await db
    .select({ one: sql`1` })
    .from(organizations)
    .where(dialect.organizationMatches(kind.match))
    .limit(1);
  if (orgs.length) return null;
  return dialect.peopleMatchingWords(kind.match);
}

export type SearchPlan = "few" | "broad";

/** The plan for a search that matches `matches` people (counted up to BROAD_SEARCH). */
export const searchPlan = (matches: number): SearchPlan => (matches >= BROAD_SEARCH ? "broad" : "few");

/**
 * People matching a search. Which plan is fast depends on how many match, so count first (capped, cheap):
 * - few matches: look them up by id and sort that handful;
 * - broad: walk the sort index and keep the rows that match, which fills a page after a short walk
 *   (the unary + keeps SQLite from choosing the id lookup and then sorting a huge set).
 */
export async function searchCondition(
  db: Db,
  kind: SearchKind,
  sortMatches = false,
): Promise<{ plan: SearchPlan; condition: SQL }> {
  const matches = await matchingIds(db, kind);
  const plan = sortMatches ? "few" : searchPlan(await countMatches(db, matches));
  return { plan, condition: plan === "broad" ? sql`+${users.id} IN (${matches})` : sql`${users.id} IN (${matches})` };
}

/** How many ids a search's subquery yields, counted up to `cap`. */
async function countMatches(db: Db, matches: SQL, cap = BROAD_SEARCH): Promise<number> {
  const [{ n }] = (await sqlAll<{ n: number }>(
    db,
    sql`SELECT count(*) AS n FROM (${matches} LIMIT ${cap}) AS matches`,
  )) as [{ n: number }];
  return n;
}

/**
 * A words search sorted by name walks the name index when it matches this share of the people (counted against
 * the largest id) or more; below, sorting the matches costs less than a walk that may have to pass a long
 * stretch of names first (people sharing a last name sit together: at 1M people, sorting 25,000 Nguyens beats
 * walking the 550,000 names before them).
 */
const WALK_SHARE = 0.04;

/** How many entries of the name index a search sorted by name reads, at most, before it sorts its matches instead. */
const NAME_WALK = 25_000;

/**
 * A broad words search alone, sorted by name: walk the name index from the cursor and keep the people whose
 * words (users.name_words, in the index) or organization match, stopping after a page; a row whose words are
 * not written yet is checked against the full-text matches. Gives the page's ids; null when sorting the
 * matches costs less: fewer than WALK_SHARE of the people, or less than a page in the first NAME_WALK entries (the matches
 * lie further on); undefined when the walk does not apply (other filters, words the tokenizer would split).
 */
async function walkNameIndex(
  db: Db,
  query: UserListQuery & { limit: number },
  keys: SQL[],
  after: unknown[] | null,
  descending: boolean,
): Promise<{ ids: number[] } | null | undefined> {
  const { q, sort, order, cursor, limit, ...filters } = query;
  const kind = q ? searchKind(q) : null;
  if (kind?.kind !== "words" || Object.values(filters).some((v) => v !== undefined)) return undefined;
  const words = [...kind.match.matchAll(/"([^"]+)"\*/g)].map(([, term]) => ftsWords(term!));
  if (!words.every((w) => w.length === 1)) return undefined;
  const matches = await matchingIds(db, kind);
  const [{ people }] = (await db.select({ people: sql<number>`coalesce(max(${users.id}), 0)` }).from(users)) as [
    { people: number },
  ];
  const walkFrom = Math.ceil(people * WALK_SHARE);
  if ((await countMatches(db, matches, walkFrom)) < walkFrom) return null;
  const dialect = dialectOf(db);
  const n = limit + 1;
  const hasWords = sql.join(
    words.map(([w]) => sql`${dialect.contains(sql`walked.name_words`, ` ${w}`)}`),
    sql` AND `,
  );
  const rows = await sqlAll<{ id: number }>(
    db,
    sql`SELECT walked.id AS id FROM (
      SELECT ${users.id} AS id, ${users.nameWords} AS name_words, ${users.organizationId} AS organization_id
      FROM ${users} ${after ? sql`WHERE ${afterCursor(keys, after, descending)}` : sql``}
      ORDER BY ${sql.join(
        keys.map((k) => (descending ? sql`${k} DESC` : sql`${k} ASC`)),
        sql`, `,
      )} LIMIT ${NAME_WALK}) AS walked
    WHERE (${hasWords})
      OR (walked.name_words IS NULL AND walked.id IN (${matches}))
      OR walked.organization_id IN
        (SELECT ${organizations.id} FROM ${organizations} WHERE ${dialect.organizationMatches(kind.match)})
    LIMIT ${n}`,
  );
  return rows.length === n ? { ids: rows.map((r) => r.id) } : null;
}

function sortValues(sort: UserSort, r: UserRow): unknown[] {
  switch (sort) {
    case "id":
      return [r.id];
    case "name":
      return [r.lastname ?? "", r.firstname ?? "", r.id];
    case "email":
      return [r.email ?? "", r.id];
    case "created_at":
      return [r.createdAt.getTime(), r.id];
    case "updated_at":
      return [r.updatedAt.getTime(), r.id];
    case "last_seen_at":
      return [r.lastSeenAt?.getTime() ?? 0, r.id];
  }
}

export type UserSummary = {
  id: number;
  email: string | null;
  login: string;
  firstname: string | null;
  lastname: string | null;
};

/** Names for display (timelines, ticket lists): a few users by id, in one query. */
export async function describeUsers(db: Db, ids: (number | null | undefined)[]): Promise<Map<number, UserSummary>> {
  const wanted = [...new Set(ids.filter((x): x is number => typeof x === "number"))];
  if (!wanted.length) return new Map();
  const rows = await db
    .select({
      id: users.id,
      email: users.email,
      login: users.login,
      firstname: users.firstname,
      lastname: users.lastname,
    })
    .from(users)
    .where(inArray(users.id, wanted));
  return new Map(rows.map((r) => [r.id, r]));
}

/** A user named the way a person types it in a form: an id or an email. Unknown is a ValidationError on `field`. */
export async function resolveUserRef(db: Db, ref: string, field: string): Promise<number> {
  const value = ref.trim();
  if (!value) throw new ValidationError([{ field, message: "is required: a user id or email" }]);
  const row = /^\d{1,15}$/.test(value)
    ? (
        await db
          .select({ id: users.id })
          .from(users)
          .where(eq(users.id, Number(value)))
          .limit(1)
      )[0]
    : await findUserByEmail(db, value);
  if (!row) throw new ValidationError([{ field, message: `no user with the id or email "${value}"` }]);
  return row.id;
}

// Bulk writes (the CSV import): what createUserIn and updateUserIn do, for many people in a few statements.

/** The people with these ids (those that exist). */
export async function findUsersByIds(db: DbOrTx, ids: number[]): Promise<UserRow[]> {
  return ids.length
    ? await db
        .select()
        .from(users)
        .where(inArray(users.id, [...new Set(ids)]))
    : [];
}

/** The people with these emails (those that exist), as findUserByEmail matches one. */
export async function findUsersByEmails(db: DbOrTx, addresses: string[]): Promise<UserRow[]> {
  const wanted = [...new Set(addresses.map((a) => a.trim().toLowerCase()))];
  return wanted.length ? await db.select().from(users).where(inArray(users.email, wanted)) : [];
}

/** One person of a bulk write: a create, or an update of `before`; `data` as parseUserInput answers it. */
export type UserWrite = { before?: UserRow; data: Record<string, unknown> };

/** Lower-cases as SQLite's lower() and PostgreSQL's under the "C" collation do: ASCII letters only. */
const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** Each person's role or group ids in id order, as snapshot() reads them for one. */
async function membershipsOf(tx: Tx, table: typeof userRoles | typeof userGroups, ids: number[]) {
  const of = new Map<number, number[]>(ids.map((id) => [id, []]));
  if (!ids.length) return of;
  const member = table === userRoles ? userRoles.roleId : userGroups.groupId;
  const rows = await tx
    .select({ userId: table.userId, id: member })
    .from(table)
    .where(inArray(table.userId, ids))
    .orderBy(asc(table.userId), asc(member));
  for (const r of rows) of.get(r.userId)!.push(r.id);
  return of;
}

/**
 * Turns validated inputs into target values in API names (organization by name → id, roles by name → ids), with
 * one query per kind of reference (organization names, ids, groups) for them all; a bad reference is its error.
 */
async function resolveInputs(
  tx: Tx,
  list: Record<string, unknown>[],
  fields: CustomField[],
): Promise<(Record<string, unknown> | ValidationError)[]> {
  const names = [...new Set(list.flatMap((d) => (typeof d.organization === "string" ? [d.organization] : [])))];
  const orgByName = new Map<string, number>();
  if (names.length) {
    const lowered = [...new Set(names.map((n) => asciiLower(n.trim())))];
    const rows = await tx
      .select({ id: organizations.id, name: organizations.name })
      .from(organizations)
      .where(inArray(sql`lower(${organizations.name})`, lowered))
      .orderBy(asc(organizations.id));
    for (const r of rows) if (!orgByName.has(asciiLower(r.name))) orgByName.set(asciiLower(r.name), r.id);
  }
  const orgIdOf = (d: Record<string, unknown>) =>
    typeof d.organization === "string" ? orgByName.get(asciiLower(d.organization.trim())) : d.organization_id;
  const orgIds = [...new Set(list.map(orgIdOf).filter((v): v is number => typeof v === "number"))];
  const knownOrgs = new Set(
    orgIds.length
      ? (await tx.select({ id: organizations.id }).from(organizations).where(inArray(organizations.id, orgIds))).map(
          (r) => r.id,
        )
      : [],
  );
  const groupIds = [...new Set(list.flatMap((d) => (d.group_ids as number[] | undefined) ?? []))];
  const knownGroups = new Set(
    groupIds.length
      ? (await tx.select({ id: groups.id }).from(groups).where(inArray(groups.id, groupIds))).map((r) => r.id)
      : [],
  );
  return list.map((data) => {
    const target: Record<string, unknown> = {};
    for (const api of USER_FIELDS) if (data[api] !== undefined) target[api] = data[api];
    if (data.organization !== undefined) {
      if (data.organization === null) target.organization_id = null;
      else {
        const orgId = orgIdOf(data);
        if (orgId === undefined)
          return new ValidationError([
            { field: "organization", message: `no organization named "${data.organization}"` },
          ]);
        target.organization_id = orgId;
      }
    }
    if (typeof target.organization_id === "number" && !knownOrgs.has(target.organization_id))
      return new ValidationError([{ field: "organization_id", message: "no such organization" }]);
    const roleIds = data.role_ids ?? (data.roles as RoleName[] | undefined)?.map((n) => ROLE_IDS[n]);
    if (roleIds !== undefined) target.role_ids = [...new Set(roleIds as number[])].sort();
    if (data.group_ids !== undefined) {
      const wanted = [...new Set(data.group_ids as number[])].sort((a, b) => a - b);
      if (!wanted.every((g) => knownGroups.has(g)))
        return new ValidationError([{ field: "group_ids", message: "contains an unknown group id" }]);
      target.group_ids = wanted;
    }
    for (const f of fields) if (data[f.name] !== undefined) target[f.name] = data[f.name];
    if (data.traits !== undefined) target.traits = data.traits;
    return target;
  });
}

/** assertUnique for many targets at once: the conflict each would raise, by index. */
async function uniquenessErrors(tx: Tx, targets: { index: number; values: Record<string, unknown>; id?: number }[]) {
  const emails = [...new Set(targets.flatMap((t) => (typeof t.values.email === "string" ? [t.values.email] : [])))];
  const logins = [...new Set(targets.flatMap((t) => (typeof t.values.login === "string" ? [t.values.login] : [])))];
  const errors = new Map<number, AppError>();
  if (!emails.length && !logins.length) return errors;
  const conds = [
    ...(emails.length ? [inArray(users.email, emails)] : []),
    ...(logins.length ? [inArray(users.login, logins)] : []),
  ];
  const taken = await tx
    .select({ id: users.id, email: users.email, login: users.login })
    .from(users)
    .where(or(...conds));
  const byEmail = new Map(taken.flatMap((r) => (r.email ? [[r.email, r.id] as const] : [])));
  const byLogin = new Map(taken.map((r) => [r.login, r.id] as const));
  for (const { index, values, id } of targets) {
    const other = (owner: number | undefined) => owner !== undefined && owner !== id;
    if (typeof values.email === "string" && other(byEmail.get(values.email)))
      errors.set(
        index,
        conflict("a user with this email already exists", [{ field: "email", message: "already taken" }]),
      );
    else if (typeof values.login === "string" && other(byLogin.get(values.login)))
      errors.set(
        index,
        conflict("a user with this login already exists", [{ field: "login", message: "already taken" }]),
      );
  }
  return errors;
}

type PlannedWrite =
  | { kind: "alone" }
  | { kind: "create"; values: Record<string, unknown>; changes: Record<string, [unknown, unknown]> }
  | { kind: "update"; before: UserRow; columns: Partial<UserRow>; changes: Record<string, [unknown, unknown]> };

/**
 * createUserIn / updateUserIn for many people, with the same checks, rows, memberships, provenance
 * and events (recorded together, in order, each with its hooks), in a few statements: the checks
 * read set-based, new people are inserted together. The writes must be independent: no two name the
 * same person, email or login. One that involves the Admin role (before or after) is written alone
 * by createUserIn / updateUserIn in a savepoint, in its place, so the last-admin rules run as always.
 * Answers, per write, the row written (`before` itself when nothing changes) or the error it met.
 */
export async function writeUsersIn(
  tx: Tx,
  feed: EventFeed,
  list: UserWrite[],
  fields: CustomField[],
  actor: Actor,
): Promise<(UserRow | AppError)[]> {
  const out: (UserRow | AppError | undefined)[] = new Array(list.length);
  const targets = await resolveInputs(
    tx,
    list.map((w) => w.data),
    fields,
  );
  const updated = list.flatMap((w) => (w.before ? [w.before.id] : []));
  const rolesBefore = await membershipsOf(tx, userRoles, updated);
  const groupsBefore = targets.some((t) => !(t instanceof AppError) && t.group_ids !== undefined)
    ? await membershipsOf(tx, userGroups, updated)
    : new Map<number, number[]>();
  const hasAdmin = (ids: unknown) => Array.isArray(ids) && ids.includes(ROLE_IDS.Admin);
  const plans: (PlannedWrite | undefined)[] = new Array(list.length);
  const checked: { index: number; values: Record<string, unknown>; id?: number }[] = [];
  for (const [i, { before }] of list.entries()) {
    const target = targets[i]!;
    if (target instanceof AppError) out[i] = target;
    else if (hasAdmin(target.role_ids) || (before && hasAdmin(rolesBefore.get(before.id))))
      plans[i] = { kind: "alone" };
    else if (before) checked.push({ index: i, values: target, id: before.id });
    else {
      const login = (target.login as string | undefined) ?? (target.email as string | undefined);
      const missing = login ? missingRequired(fields, { ...target, login }) : [];
      if (!login) out[i] = new ValidationError([{ field: "email", message: "a user needs an email or a login" }]);
      else if (missing.length) out[i] = new ValidationError(missing);
      else checked.push({ index: i, values: Object.assign(target, { login }) });
    }
  }
  const taken = await uniquenessErrors(tx, checked);
  for (const { index: i } of checked) {
    const error = taken.get(i);
    if (error) {
      out[i] = error;
      continue;
    }
    const target = targets[i] as Record<string, unknown>;
    const before = list[i]!.before;
    if (!before) {
      target.role_ids ??= [CUSTOMER_ROLE_ID];
      const changes = diff({}, target);
      const now = new Date();
      const values: Record<string, unknown> = {
        ...NEW_USER_DEFAULTS,
        createdAt: now,
        ...columnsFor({ custom: {}, provenance: {} }, changes, fields, actor),
        updatedAt: now,
        login: target.login,
        createdById: actor.id,
      };
      values.nameWords = nameWordsOf(values);
      plans[i] = { kind: "create", values, changes };
      continue;
    }
    const current = apiValues(before, COLUMN_OF, fields);
    if ("role_ids" in target) current.role_ids = rolesBefore.get(before.id);
    if ("group_ids" in target) current.group_ids = groupsBefore.get(before.id);
    current.traits = before.traits;
    const changes = diff(current, target);
    if (!Object.keys(changes).length) {
      out[i] = before;
      continue;
    }
    const columns = columnsFor(before, changes, fields, actor);
    if (SEARCHED_COLUMNS.some((c) => c in columns)) columns.nameWords = nameWordsOf({ ...before, ...columns });
    plans[i] = { kind: "update", before, columns, changes };
  }
  // In order: each run of planned writes together, each write that goes alone in its place.
  let run: number[] = [];
  for (let i = 0; i <= list.length; i++) {
    const plan = plans[i];
    if (plan && plan.kind !== "alone") run.push(i);
    if (i < list.length && plan?.kind !== "alone") continue;
    await writePlanned(tx, feed, run, plans, out, actor);
    run = [];
    if (i === list.length) break;
    const { before, data } = list[i]!;
    try {
      out[i] = await tx.savepoint((sp) =>
        before ? updateUserIn(sp, feed, before, data, fields, actor) : createUserIn(sp, feed, data, fields, actor),
      );
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      out[i] = err;
    }
  }
  return out as (UserRow | AppError)[];
}

/** Writes planned creates and updates: new people in one insert, memberships set-based, events together. */
async function writePlanned(
  tx: Tx,
  feed: EventFeed,
  indexes: number[],
  plans: (PlannedWrite | undefined)[],
  out: (UserRow | AppError | undefined)[],
  actor: Actor,
): Promise<void> {
  if (!indexes.length) return;
  const creates = indexes.filter((i) => plans[i]!.kind === "create");
  if (creates.length) {
    const values = creates.map((i) => (plans[i] as Extract<PlannedWrite, { kind: "create" }>).values);
    const inserted = await tx
      .insert(users)
      .values(values as (typeof users.$inferInsert)[])
      .returning();
    const byLogin = new Map(inserted.map((r) => [r.login, r]));
    for (const [n, i] of creates.entries()) out[i] = byLogin.get(values[n]!.login as string)!;
  }
  const updates: [number, Extract<PlannedWrite, { kind: "update" }>][] = [];
  for (const i of indexes) {
    const plan = plans[i]!;
    if (plan.kind === "update") updates.push([i, plan]);
  }
  await updateMany(tx, updates, out);
  const written = indexes.map((i) => ({
    userId: (out[i] as UserRow).id,
    changes: (plans[i] as Exclude<PlannedWrite, { kind: "alone" }>).changes,
    created: plans[i]!.kind === "create",
  }));
  const rolesReplaced = written.filter((w) => w.changes.role_ids && !w.created).map((w) => w.userId);
  if (rolesReplaced.length) await tx.delete(userRoles).where(inArray(userRoles.userId, rolesReplaced));
  const roleRows = written.flatMap((w) =>
    w.changes.role_ids ? (w.changes.role_ids[1] as number[]).map((roleId) => ({ userId: w.userId, roleId })) : [],
  );
  if (roleRows.length) await tx.insert(userRoles).values(roleRows);
  const groupsReplaced = written.filter((w) => w.changes.group_ids).map((w) => w.userId);
  if (groupsReplaced.length) await tx.delete(userGroups).where(inArray(userGroups.userId, groupsReplaced));
  const groupRows = written.flatMap((w) =>
    w.changes.group_ids ? (w.changes.group_ids[1] as number[]).map((groupId) => ({ userId: w.userId, groupId })) : [],
  );
  if (groupRows.length) await tx.insert(userGroups).values(groupRows);
  await feed.recordMany(
    tx,
    written.map((w) => ({
      type: w.created ? "user.created" : "user.updated",
      objectType: "user",
      objectId: w.userId,
      changes: w.changes,
    })),
    actor,
  );
}

/**
 * Updates many people in one statement per set of columns changed: an insert of their rows that
 * conflicts on the id, then sets only those columns (the other values never reach the table). Where
 * transactions interleave (PostgreSQL) a person read before may have been deleted since, and that insert
 * would bring them back: there each is updated alone, and a person gone fails the batch (the caller
 * then writes its rows one by one, and that row reports the person not found).
 */
async function updateMany(
  tx: Tx,
  updates: [number, Extract<PlannedWrite, { kind: "update" }>][],
  out: (UserRow | AppError | undefined)[],
): Promise<void> {
  if (dialectOf(tx).transactionsInterleave) {
    for (const [i, u] of updates) {
      const [row] = await tx.update(users).set(u.columns).where(eq(users.id, u.before.id)).returning();
      if (!row) throw notFound("user");
      out[i] = row;
    }
    return;
  }
  const byColumns = new Map<string, typeof updates>();
  for (const u of updates) {
    const key = Object.keys(u[1].columns).sort().join(",");
    byColumns.set(key, [...(byColumns.get(key) ?? []), u]);
  }
  for (const [key, group] of byColumns) {
    const set = Object.fromEntries(
      key.split(",").map((c) => [c, sql.raw(`excluded."${users[c as keyof UserRow].name}"`)]),
    ) as Partial<UserRow>;
    const rows = await tx
      .insert(users)
      .values(group.map(([, u]) => ({ ...u.before, ...u.columns })))
      .onConflictDoUpdate({ target: users.id, set })
      .returning();
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const [i, u] of group) out[i] = byId.get(u.before.id)!;
  }
}
