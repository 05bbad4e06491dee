import type { Core } from "../core";
import { asc, gt } from "drizzle-orm";
import type { Db, Tx } from "../db/client";
import { organizations, users } from "../db/schema";
import { AppError, ValidationError } from "../errors";
import type { Actor, EventFeed } from "../events/feed";
import { listCustomFields, type CustomField } from "../domain/custom-fields";
import {
  createOrganizationIn,
  findOrganizationByName,
  getOrganizationRow,
  organizationJson,
  parseOrganizationInput,
  type OrganizationRow,
  updateOrganizationIn,
} from "../domain/organizations";
import {
  createUserIn,
  findUserByEmail,
  getUserRow,
  parseUserInput,
  updateUserIn,
  USER_FIELDS,
  userJson,
  type UserRow,
} from "../domain/users";
import { CsvError, csvLine, unguard } from "./csv";

/**
 * CSV import and export of users and organizations. Export streams in pages (bounded memory at any
 * size); import runs every row in one transaction with a savepoint per row, so a preview is the real
 * import rolled back, and a commit with any bad row writes nothing.
 */
type Kind = "user" | "organization";
const PAGE = 1000;

/** A person's columns (the organization by name, as people type it), then roles, traits and read-only times. */
const USER_COLUMNS = [
  "id",
  ...USER_FIELDS.map((f) => (f === "organization_id" ? "organization" : f)),
  "roles",
  "traits",
  "last_seen_at",
  "created_at",
  "updated_at",
];
const ORG_COLUMNS = [
  "id",
  "name",
  "domain",
  "domain_assignment",
  "shared",
  "note",
  "active",
  "member_count",
  "created_at",
  "updated_at",
];
/** A kind's columns: its own, then its custom fields. */
const columnsOf = (kind: Kind, fields: CustomField[]) => [
  ...(kind === "user" ? USER_COLUMNS : ORG_COLUMNS),
  ...fields.map((f) => f.name),
];
const BOOLEAN_COLUMNS = new Set(["vip", "verified", "out_of_office", "active", "domain_assignment", "shared"]);
const READ_ONLY = new Set(["last_seen_at", "created_at", "updated_at", "member_count"]);

export async function exportCsv(
  { db, personFields }: Pick<Core, "db" | "personFields">,
  kind: Kind,
): Promise<ReadableStream<Uint8Array>> {
  const fields = await listCustomFields(db, kind);
  const columns = columnsOf(kind, fields);
  const encoder = new TextEncoder();
  let after = 0;
  let headerSent = false;
  return new ReadableStream({
    async pull(controller) {
      if (!headerSent) {
        headerSent = true;
        controller.enqueue(encoder.encode(csvLine(columns)));
        return;
      }
      const rows =
        kind === "user"
          ? await Promise.all(
              (await db.select().from(users).where(gt(users.id, after)).orderBy(asc(users.id)).limit(PAGE)).map(
                async (r) => (await userJson(db, personFields, r, fields)) as Record<string, unknown>,
              ),
            )
          : await Promise.all(
              (
                await db
                  .select()
                  .from(organizations)
                  .where(gt(organizations.id, after))
                  .orderBy(asc(organizations.id))
                  .limit(PAGE)
              ).map(async (r) => (await organizationJson(db, r, fields)) as Record<string, unknown>),
            );
      if (!rows.length) return controller.close();
      after = rows.at(-1)!.id as number;
      const text = rows
        .map((r) => csvLine(columns.map((c) => (c === "roles" ? (r.roles as string[]).join(",") : r[c]))))
        .join("");
      controller.enqueue(encoder.encode(text));
    },
  });
}

/** The columns an import of this kind reads (the export's, less the read-only ones). */
export async function importColumns(db: Db, kind: Kind): Promise<string[]> {
  return columnsOf(kind, await listCustomFields(db, kind)).filter((c) => !READ_ONLY.has(c));
}

export type ImportReport = {
  dry_run: boolean;
  committed: boolean;
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  errors: { line: number; field: string; message: string }[];
  /** What each of the first rows would do (the preview). */
  preview: { line: number; action: "create" | "update" | "unchanged" | "error"; id: number | null; label: string }[];
};

const PREVIEW_ROWS = 100;
const MAX_ERRORS = 1000;
class Rollback extends Error {}

/** Imports rows (the first names the columns) as they come: the whole file is never held in memory. */
export async function importCsv(
  db: Db,
  feed: EventFeed,
  kind: Kind,
  table: Iterable<string[]>,
  actor: Actor,
  opts: { dryRun: boolean },
): Promise<ImportReport> {
  try {
    return await importRows(db, feed, kind, table[Symbol.iterator](), actor, opts);
  } catch (err) {
    if (err instanceof CsvError) throw new ValidationError([{ field: `line ${err.line}`, message: err.message }]);
    throw err;
  }
}

async function importRows(
  db: Db,
  feed: EventFeed,
  kind: Kind,
  rows: Iterator<string[]>,
  actor: Actor,
  opts: { dryRun: boolean },
): Promise<ImportReport> {
  const header = rows.next();
  if (header.done)
    throw new ValidationError([{ field: "file", message: "is empty: the first line must name the columns" }]);
  const fields = await listCustomFields(db, kind);
  const known = new Set(columnsOf(kind, fields));
  const names = header.value.map((h) => h.trim().toLowerCase());
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) throw new ValidationError(unknown.map((n) => ({ field: n, message: "is not a known column" })));
  const report: ImportReport = {
    dry_run: opts.dryRun,
    committed: false,
    rows: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    errors: [],
    preview: [],
  };
  try {
    await db.transaction(async (tx) => {
      for (let next = rows.next(); !next.done; next = rows.next()) {
        const cells = next.value;
        const line = ++report.rows + 1;
        try {
          await tx.savepoint(async (row) =>
            applyRow(row, feed, kind, rowInput(names, cells, fields), fields, actor, report, line),
          );
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          const details = Array.isArray(err.details)
            ? (err.details as { field: string; message: string }[])
            : [{ field: "", message: err.message }];
          if (report.errors.length < MAX_ERRORS) report.errors.push(...details.map((d) => ({ line, ...d })));
          if (report.preview.length < PREVIEW_ROWS)
            report.preview.push({ line, action: "error", id: null, label: cells.join(", ").slice(0, 80) });
        }
      }
      if (opts.dryRun || report.errors.length) throw new Rollback();
    });
    report.committed = true;
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  return report;
}

/** A CSV row as API input: empty cells are left out (unchanged), types converted per column. */
function rowInput(names: string[], cells: string[], fields: CustomField[]): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  names.forEach((name, i) => {
    const value = unguard(cells[i] ?? "");
    const raw = value.trim();
    if (raw === "" || READ_ONLY.has(name)) return;
    const field = fields.find((f) => f.name === name);
    if (name === "id") input.id = Number(raw);
    else if (BOOLEAN_COLUMNS.has(name) || field?.type === "boolean") input[name] = parseBoolean(raw);
    else if (field?.type === "number") input[name] = Number.isFinite(Number(raw)) ? Number(raw) : raw;
    else if (name === "roles")
      input.roles = raw
        .split(/[,;]/)
        .map((r) => r.trim())
        .filter(Boolean);
    else if (name === "traits") {
      try {
        input.traits = JSON.parse(raw);
      } catch {
        input.traits = raw;
      }
    } else if (field?.type === "text")
      input[name] = value; // kept with its spaces: an exported value comes back exactly
    else input[name] = raw;
  });
  return input;
}

function parseBoolean(v: string): boolean | string {
  const s = v.toLowerCase();
  if (["true", "yes", "1", "y"].includes(s)) return true;
  if (["false", "no", "0", "n"].includes(s)) return false;
  return v;
}

/** How rows of one kind are parsed, matched to a record, written and named in the preview. */
type Importer<R extends { id: number }> = {
  parse: (tx: Tx, input: unknown, fields: CustomField[]) => Promise<{ data: Record<string, unknown> }>;
  /** A row with an id updates that record; one without updates the record with the same key (email, name). */
  find: {
    byId: (tx: Tx, id: number) => Promise<R>;
    key: string;
    byKey: (tx: Tx, value: string) => Promise<R | undefined>;
  };
  write: {
    create: (tx: Tx, feed: EventFeed, data: Record<string, unknown>, fields: CustomField[], actor: Actor) => Promise<R>;
    update: (
      tx: Tx,
      feed: EventFeed,
      row: R,
      data: Record<string, unknown>,
      fields: CustomField[],
      actor: Actor,
    ) => Promise<R>;
  };
  label: (row: R) => string;
};

const USER_IMPORTER: Importer<UserRow> = {
  parse: parseUserInput,
  find: { byId: getUserRow, key: "email", byKey: findUserByEmail },
  write: { create: createUserIn, update: updateUserIn },
  label: (row) => row.email ?? row.login,
};

const ORGANIZATION_IMPORTER: Importer<OrganizationRow> = {
  parse: parseOrganizationInput,
  find: { byId: getOrganizationRow, key: "name", byKey: findOrganizationByName },
  write: { create: createOrganizationIn, update: updateOrganizationIn },
  label: (row) => row.name,
};

async function applyRow(
  tx: Tx,
  feed: EventFeed,
  kind: Kind,
  input: Record<string, unknown>,
  fields: CustomField[],
  actor: Actor,
  report: ImportReport,
  line: number,
) {
  const { id, ...rest } = input;
  if (id !== undefined && (!Number.isInteger(id) || (id as number) <= 0))
    throw new ValidationError([{ field: "id", message: "must be a positive whole number" }]);
  const { action, rowId, label } =
    kind === "user"
      ? await saveRow(USER_IMPORTER, tx, feed, id as number | undefined, rest, fields, actor)
      : await saveRow(ORGANIZATION_IMPORTER, tx, feed, id as number | undefined, rest, fields, actor);
  report[action === "create" ? "created" : action === "update" ? "updated" : "unchanged"]++;
  if (report.preview.length < PREVIEW_ROWS) report.preview.push({ line, action, id: rowId, label });
}

/** Creates the record or updates the one the row names; an update that changes nothing answers the same row. */
async function saveRow<R extends { id: number }>(
  importer: Importer<R>,
  tx: Tx,
  feed: EventFeed,
  id: number | undefined,
  input: Record<string, unknown>,
  fields: CustomField[],
  actor: Actor,
) {
  const { data } = await importer.parse(tx, input, fields);
  const { byId, key, byKey } = importer.find;
  const keyValue = data[key];
  const existing =
    id !== undefined ? await byId(tx, id) : typeof keyValue === "string" ? await byKey(tx, keyValue) : undefined;
  const row = existing
    ? await importer.write.update(tx, feed, existing, data, fields, actor)
    : await importer.write.create(tx, feed, data, fields, actor);
  const action: "create" | "update" | "unchanged" = !existing ? "create" : row === existing ? "unchanged" : "update";
  return { action, rowId: row.id, label: importer.label(row) };
}
