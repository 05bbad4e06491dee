import { sql, type SQL } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { sqlAll, type DbOrTx } from "../db/client";
import { z } from "zod";
import type { Provenance } from "../db/schema";
import { badRequest } from "../errors";
import type { Source } from "../events/feed";

/** Helpers shared by the record services (users, organizations, tickets ...). */

/** A trimmed optional text field where "" clears the value (stored as null). */
export const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `must be at most ${max} characters`)
    .transform((v) => (v === "" ? null : v))
    .nullable()
    .optional();

export const id = z.number().int().positive();

/** JSON objects from outside (traits) are bounded in depth and size. */
export const boundedJsonObject = z
  .record(z.string().max(200), z.unknown())
  .refine((v) => depth(v) <= 6, "is nested too deeply (at most 6 levels)")
  .refine((v) => JSON.stringify(v).length <= 32_768, "is too large (at most 32 KB as JSON)");

function depth(v: unknown): number {
  if (v === null || typeof v !== "object") return 0;
  let max = 0;
  for (const x of Object.values(v)) max = Math.max(max, depth(x));
  return 1 + max;
}

export const isoOrNull = (d: Date | null | undefined) => (d ? d.toISOString() : null);

const same = (a: unknown, b: unknown) => a === b || JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The fields whose value differs, as {field: [old, new]}. */
export function diff(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): Record<string, [unknown, unknown]> {
  const changes: Record<string, [unknown, unknown]> = {};
  for (const [k, v] of Object.entries(after)) if (!same(before[k], v)) changes[k] = [before[k] ?? null, v ?? null];
  return changes;
}

/** Records that `source` wrote these fields now. */
export function stamp(provenance: Provenance, fields: string[], source: Source, at = Date.now()): Provenance {
  const next = { ...provenance };
  for (const f of fields) next[f] = { source, at };
  return next;
}

/** Keyset pagination: an opaque cursor holding the sort values of the last row seen. */
export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString("base64url");
}

const invalidCursor = () =>
  badRequest("invalid cursor; use the next_cursor value of a previous page", [
    { field: "cursor", message: "is not a cursor from this list" },
  ]);

export function decodeCursor(cursor: string, length: number): unknown[] {
  try {
    const values = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(values) && values.length === length) return values;
  } catch {
    // fall through
  }
  throw invalidCursor();
}

/** A cursor's values, checked against the kinds the list sorts by (a number or one of some words). */
export function decodeTypedCursor(cursor: string, kinds: ("number" | readonly string[])[]): unknown[] {
  const values = decodeCursor(cursor, kinds.length);
  const fits = (v: unknown, k: (typeof kinds)[number]) =>
    k === "number" ? Number.isSafeInteger(v) : k.includes(v as string);
  if (!values.every((v, i) => fits(v, kinds[i]!))) throw invalidCursor();
  return values;
}

/**
 * Lists kept newest first by id (deliveries, the HTTP log) continue below the id their cursor holds;
 * `before_id`, the earlier spelling, is still read.
 */
export function beforeIdOf(p: { cursor?: string; before_id?: number }): number | undefined {
  return p.cursor === undefined ? p.before_id : (decodeTypedCursor(p.cursor, ["number"])[0] as number);
}

/** A page from rows fetched with one more than the limit: the extra row says another page follows. */
export function pageOf<T>(
  rows: T[],
  limit: number,
  sortValues: (last: T) => unknown[],
): { data: T[]; next_cursor: string | null } {
  const more = rows.length > limit;
  const data = more ? rows.slice(0, limit) : rows;
  return { data, next_cursor: more ? encodeCursor(sortValues(data.at(-1)!)) : null };
}

/** `(k1, k2, id) > (v1, v2, vid)` (or `<` descending): SQLite row values, served by the sort index. */
export function afterCursor(keys: SQL[], values: unknown[], descending: boolean): SQL {
  const left = sql.join(keys, sql`, `);
  const right = sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  );
  return descending ? sql`(${left}) < (${right})` : sql`(${left}) > (${right})`;
}

/**
 * An FTS5 query for search-as-you-type: each word of the input becomes a quoted prefix term, all
 * required. Returns null when the input has no searchable characters.
 */
export function ftsQuery(input: string): string | null {
  const words = input.toLowerCase().match(/[\p{L}\p{N}]+/gu);
  if (!words?.length) return null;
  return words
    .slice(0, 8)
    .map((w) => `"${w}"*`)
    .join(" ");
}

export const DEFAULT_PAGE_SIZE = 50;

/** A keyset-paged listing: how many, after which cursor, in which order, sorted by what. */
export type ListQuery<Sort extends string> = { limit?: number; cursor?: string; order?: "asc" | "desc"; sort?: Sort };

/** The paging a listing uses when the caller leaves it out. */
export const listDefaults = <Sort extends string>(q: ListQuery<Sort>, sort: Sort) => ({
  limit: q.limit ?? DEFAULT_PAGE_SIZE,
  order: q.order ?? "asc",
  sort: q.sort ?? sort,
});

/** The paging parameters of newest-first lists keyed by id. */
export const idPageParams = {
  cursor: z.string().max(2000).optional(),
  before_id: z.coerce.number().int().positive().optional(),
};

export type Page<T> = { data: T[]; next_cursor: string | null };

/** Counting stops past this: a larger count is shown as "10,000+" (an estimate, and marked as one). */
const COUNT_CAP = 10_000;

/** How many rows match a list's filter: exact up to COUNT_CAP, else capped (cheap on any table size). */
export type Count = { count: number; capped: boolean };

export async function countUpTo(db: DbOrTx, table: SQLiteTable, where: SQL | undefined): Promise<Count> {
  return countRowsUpTo(db, db.select({ one: sql`1` }).from(table).where(where));
}

/** The same count over a query's rows (one per matching record), which stops reading after COUNT_CAP + 1. */
export async function countRowsUpTo(db: DbOrTx, rows: SQL | { getSQL(): SQL }): Promise<Count> {
  const [{ n }] = (await sqlAll<{ n: number }>(
    db,
    sql`SELECT count(*) AS n FROM (SELECT * FROM (${rows}) AS matching LIMIT ${COUNT_CAP + 1}) AS capped`,
  )) as [{ n: number }];
  return { count: Math.min(n, COUNT_CAP), capped: n > COUNT_CAP };
}
