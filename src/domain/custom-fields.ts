import { and, asc, eq, sql } from "drizzle-orm";
import { preparedFor } from "../db/prepared";
import { z } from "zod";
import type { Db, DbOrTx } from "../db/client";
import { customFields } from "../db/schema";
import { conflict, notFound, validate, ValidationError } from "../errors";
import type { Actor, EventFeed } from "../events/feed";

export type ObjectType = "user" | "organization";
export type CustomField = typeof customFields.$inferSelect;

/**
 * Names a custom field may not take: the built-in fields and relations of users and organizations,
 * and Zammad's hidden ones. A superset of the user columns (users.ts COLUMN_OF; a unit test checks it),
 * spelled out because users.ts imports this module.
 */
export const RESERVED_NAMES = new Set([
  "id",
  "login",
  "email",
  "firstname",
  "lastname",
  "name",
  "phone",
  "mobile",
  "address",
  "web",
  "note",
  "image",
  "organization",
  "organization_id",
  "organization_ids",
  "vip",
  "verified",
  "out_of_office",
  "timezone",
  "last_login",
  "last_seen_at",
  "password",
  "active",
  "roles",
  "role_ids",
  "groups",
  "group_ids",
  "traits",
  "custom",
  "provenance",
  "domain",
  "domain_assignment",
  "shared",
  "members",
  "member_ids",
  "created_at",
  "updated_at",
  "created_by_id",
  "updated_by_id",
  "created_by",
  "updated_by",
  "preferences",
  "login_failed",
  "authorizations",
  "authorization_ids",
]);

export const fieldDefinition = z.strictObject({
  object_type: z.enum(["user", "organization"]),
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,62}$/, "must be snake_case: a lowercase letter, then lowercase letters, digits or _")
    .refine((n) => !RESERVED_NAMES.has(n) && !n.startsWith("clearbit_"), "is a built-in field name"),
  label: z.string().trim().min(1, "is required").max(100),
  type: z.enum(["text", "number", "boolean", "date", "select"]),
  options: z.array(z.string().trim().min(1).max(100)).max(200).optional().default([]),
  required: z.boolean().optional().default(false),
  position: z.number().int().min(0).max(10_000).optional().default(0),
});

export const fieldUpdate = z.strictObject({
  label: z.string().trim().min(1, "is required").max(100).optional(),
  options: z.array(z.string().trim().min(1).max(100)).max(200).optional(),
  required: z.boolean().optional(),
  position: z.number().int().min(0).max(10_000).optional(),
});

const fieldQueries = preparedFor((db) => ({
  all: db.select().from(customFields).orderBy(asc(customFields.position), asc(customFields.id)).prepare(),
  of: db
    .select()
    .from(customFields)
    .where(eq(customFields.objectType, sql.placeholder("type")))
    .orderBy(asc(customFields.position), asc(customFields.id))
    .prepare(),
}));

export async function listCustomFields(db: DbOrTx, objectType?: ObjectType): Promise<CustomField[]> {
  return objectType ? await fieldQueries(db).of.execute({ type: objectType }) : await fieldQueries(db).all.execute();
}

export async function getCustomField(db: Db, id: number): Promise<CustomField> {
  const row = (await db.select().from(customFields).where(eq(customFields.id, id)).limit(1))[0];
  if (!row) throw notFound("custom field");
  return row;
}

export async function createCustomField(db: Db, feed: EventFeed, input: unknown, actor: Actor): Promise<CustomField> {
  const d = validate(fieldDefinition, input);
  if (d.type === "select" && d.options.length === 0) {
    throw new ValidationError([{ field: "options", message: "a select field needs at least one option" }]);
  }
  return await db.transaction(async (tx) => {
    if (
      (
        await tx
          .select({ id: customFields.id })
          .from(customFields)
          .where(and(eq(customFields.objectType, d.object_type), eq(customFields.name, d.name)))
          .limit(1)
      )[0]
    ) {
      throw conflict(`a ${d.object_type} field named ${d.name} already exists`, [
        { field: "name", message: "already taken" },
      ]);
    }
    const row = (
      await tx
        .insert(customFields)
        .values({
          objectType: d.object_type,
          name: d.name,
          label: d.label,
          type: d.type,
          options: d.options,
          required: d.required,
          position: d.position,
          createdById: actor.id,
          updatedById: actor.id,
        })
        .returning()
    )[0]!;
    await feed.record(tx, { type: "custom_field.created", objectType: "custom_field", objectId: row.id, actor });
    return row;
  });
}

export async function updateCustomField(
  db: Db,
  feed: EventFeed,
  id: number,
  input: unknown,
  actor: Actor,
): Promise<CustomField> {
  const d = validate(fieldUpdate, input);
  return await db.transaction(async (tx) => {
    const before = (await tx.select().from(customFields).where(eq(customFields.id, id)).limit(1))[0];
    if (!before) throw notFound("custom field");
    const row = (
      await tx
        .update(customFields)
        .set({ ...d, updatedAt: new Date(), updatedById: actor.id })
        .where(eq(customFields.id, id))
        .returning()
    )[0]!;
    await feed.record(tx, { type: "custom_field.updated", objectType: "custom_field", objectId: id, actor });
    return row;
  });
}

/** Removes the definition; values already stored stay in the rows' JSON but are no longer shown or validated. */
export async function deleteCustomField(db: Db, feed: EventFeed, id: number, actor: Actor): Promise<void> {
  await db.transaction(async (tx) => {
    const row = (await tx.delete(customFields).where(eq(customFields.id, id)).returning())[0]!;
    if (!row) throw notFound("custom field");
    await feed.record(tx, { type: "custom_field.deleted", objectType: "custom_field", objectId: id, actor });
  });
}

const schemaCache = new Map<string, z.ZodType>();

/**
 * A zod schema built from the custom field definitions, kept while the definitions stay the same:
 * zod compiles each new schema on first use, which costs more than the parse itself on hot paths.
 */
export function schemaWithFields<S extends z.ZodType>(kind: string, fields: CustomField[], build: () => S): S {
  const key = kind + JSON.stringify(fields.map((f) => [f.name, f.type, f.options, f.required]));
  let schema = schemaCache.get(key);
  if (!schema) {
    if (schemaCache.size > 100) schemaCache.clear();
    schemaCache.set(key, (schema = build()));
  }
  return schema as S;
}

/** The zod shape of an object's custom values: each optional (absent = unchanged), null clears. */
export function customValuesShape(fields: CustomField[]): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  for (const f of fields) {
    let t: z.ZodType;
    switch (f.type) {
      case "text":
        t = z.string().max(5000, "must be at most 5000 characters");
        break;
      case "number":
        t = z.number().finite();
        break;
      case "boolean":
        t = z.boolean();
        break;
      case "date":
        t = z.iso.date("must be a date (YYYY-MM-DD)");
        break;
      case "select":
        t = z.enum(f.options as [string, ...string[]], `must be one of: ${f.options.join(", ")}`);
        break;
    }
    shape[f.name] = t.nullable().optional();
  }
  return shape;
}

/**
 * The complete values a replacing write (PUT) sets: the given ones, every other field at its default
 * (custom fields empty). Required custom fields left empty are refused, as on create.
 */
export function replacementValues(
  defaults: Record<string, unknown>,
  fields: CustomField[],
  given: Record<string, unknown>,
): Record<string, unknown> {
  const values: Record<string, unknown> = { ...defaults, ...Object.fromEntries(fields.map((f) => [f.name, null])) };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) values[k] = v;
  const missing = missingRequired(fields, values);
  if (missing.length) throw new ValidationError(missing);
  return values;
}

/** Required custom fields missing from a new object's values. */
export function missingRequired(
  fields: CustomField[],
  values: Record<string, unknown>,
): { field: string; message: string }[] {
  return fields
    .filter((f) => f.required && (values[f.name] === undefined || values[f.name] === null || values[f.name] === ""))
    .map((f) => ({ field: f.name, message: "is required" }));
}

/** A record's custom field values by name, every defined field present (null when unset). */
export function customValues(custom: Record<string, unknown>, fields: CustomField[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f.name] = custom[f.name] ?? null;
  return out;
}

/** A row's values under their API names: the mapped columns, then the custom fields (what diffs compare). */
export function apiValues<R extends { custom: Record<string, unknown> }>(
  row: R,
  columns: Record<string, keyof R>,
  fields: CustomField[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [api, col] of Object.entries(columns)) out[api] = row[col];
  return Object.assign(out, customValues(row.custom, fields));
}
