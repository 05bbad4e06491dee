import type { Core } from "../core";
import { asc, gt } from "drizzle-orm";
import type { Db, Tx } from "../db/client";
import { organizations, users } from "../db/schema";
import { AppError, notFound, ValidationError } from "../errors";
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
  findUsersByEmails,
  findUsersByIds,
  getUserRow,
  parseUserInput,
  updateUserIn,
  USER_FIELDS,
  userJson,
  type UserRow,
  writeUsersIn,
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
/** Rows read, checked and written together: a few statements per chunk rather than a dozen per row. */
const CHUNK_ROWS = 500;
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

/** What an import works with, besides the rows. */
type Import = { tx: Tx; feed: EventFeed; kind: Kind; names: string[]; fields: CustomField[]; actor: Actor };
type Row = { line: number; cells: string[] };
/** What became of a row: written (or found unchanged), or the error that refused it. */
type Outcome = { action: "create" | "update" | "unchanged"; id: number; label: string } | { error: AppError };

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
      const context: Import = { tx, feed, kind, names, fields, actor };
      let chunk: Row[] = [];
      for (let next = rows.next(); !next.done; next = rows.next()) {
        chunk.push({ line: ++report.rows + 1, cells: next.value });
        if (chunk.length < CHUNK_ROWS) continue;
        await importChunk(context, chunk, report);
        chunk = [];
      }
      await importChunk(context, chunk, report);
      if (opts.dryRun || report.errors.length) throw new Rollback();
    });
    report.committed = true;
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  return report;
}

async function importChunk(context: Import, chunk: Row[], report: ImportReport): Promise<void> {
  if (!chunk.length) return;
  const outcomes = context.kind === "user" ? await importPeople(context, chunk) : await rowByRow(context, chunk);
  chunk.forEach(({ line, cells }, i) => {
    const outcome = outcomes[i]!;
    if ("error" in outcome) {
      const err = outcome.error;
      const details = Array.isArray(err.details)
        ? (err.details as { field: string; message: string }[])
        : [{ field: "", message: err.message }];
      if (report.errors.length < MAX_ERRORS) report.errors.push(...details.map((d) => ({ line, ...d })));
      if (report.preview.length < PREVIEW_ROWS)
        report.preview.push({ line, action: "error", id: null, label: cells.join(", ").slice(0, 80) });
      return;
    }
    const { action, id, label } = outcome;
    report[action === "create" ? "created" : action === "update" ? "updated" : "unchanged"]++;
    if (report.preview.length < PREVIEW_ROWS) report.preview.push({ line, action, id, label });
  });
}

/** Runs work for a row; an AppError it throws is the row's outcome. */
async function outcomeOf(work: () => Promise<Outcome>): Promise<Outcome> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { error: err };
  }
}

/** Each row alone in a savepoint (a bad row's writes roll back alone): organizations, and people whose batch failed. */
async function rowByRow(context: Import, chunk: Row[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const { cells } of chunk)
    outcomes.push(
      await outcomeOf(() =>
        context.tx.savepoint((sp) => applyRow({ ...context, tx: sp }, rowInput(context.names, cells, context.fields))),
      ),
    );
  return outcomes;
}

type ParsedPerson = { index: number; id?: number; data: Record<string, unknown> };

/**
 * A chunk of people, set-based: every row checked in JS first (a bad row is its own error), then the
 * rows' people looked up together and the rows written together (writeUsersIn), in order. A run of
 * rows goes together only while no two name the same person, email or login (a later row may be
 * about what an earlier one writes): the next run is looked up once the one before is written. A
 * run whose write fails as a whole is rolled back and written again row by row, each in a savepoint.
 */
async function importPeople(context: Import, chunk: Row[]): Promise<Outcome[]> {
  const { tx, names, fields } = context;
  const outcomes: Outcome[] = new Array(chunk.length);
  let pending: ParsedPerson[] = [];
  for (const [index, { cells }] of chunk.entries()) {
    try {
      pending.push({ index, ...(await parseRow(USER_IMPORTER, tx, rowInput(names, cells, fields), fields)) });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      outcomes[index] = { error: err };
    }
  }
  while (pending.length) {
    const emailOf = (p: ParsedPerson) => (typeof p.data.email === "string" ? p.data.email : undefined);
    const byId = new Map(
      (
        await findUsersByIds(
          tx,
          pending.flatMap((p) => (p.id !== undefined ? [p.id] : [])),
        )
      ).map((r) => [r.id, r]),
    );
    const byEmail = new Map(
      (
        await findUsersByEmails(
          tx,
          pending.flatMap((p) => (p.id === undefined ? (emailOf(p) ?? []) : [])),
        )
      ).map((r) => [r.email!, r]),
    );
    const run: (ParsedPerson & { before?: UserRow })[] = [];
    const touched = new Set<string>();
    let taken = 0;
    for (const p of pending) {
      const email = emailOf(p);
      const before = p.id !== undefined ? byId.get(p.id) : email !== undefined ? byEmail.get(email) : undefined;
      if (p.id !== undefined && !before) {
        if (run.length) break; // a row of the run may create it
        outcomes[p.index] = { error: notFound("user") };
        taken++;
        continue;
      }
      const login = typeof p.data.login === "string" ? p.data.login : before ? undefined : email;
      const keys = [
        before && `id:${before.id}`,
        before?.email && `email:${before.email}`,
        before && `login:${before.login}`,
        email !== undefined && `email:${email}`,
        login !== undefined && `login:${login}`,
      ].filter((k): k is string => typeof k === "string");
      if (keys.some((k) => touched.has(k))) break;
      for (const k of keys) touched.add(k);
      run.push({ ...p, before });
      taken++;
    }
    pending = pending.slice(taken);
    if (!run.length) continue;
    try {
      const written = await tx.savepoint((sp) => writeUsersIn(sp, context.feed, run, fields, context.actor));
      run.forEach(({ index, before }, n) => {
        const row = written[n]!;
        outcomes[index] =
          row instanceof AppError
            ? { error: row }
            : {
                action: !before ? "create" : row === before ? "unchanged" : "update",
                id: row.id,
                label: USER_IMPORTER.label(row),
              };
      });
    } catch {
      const again = await rowByRow(
        context,
        run.map((r) => chunk[r.index]!),
      );
      for (const [n, { index }] of run.entries()) outcomes[index] = again[n]!;
    }
  }
  return outcomes;
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

/** A row's id (checked) and its other values parsed as the API parses them. */
async function parseRow<R extends { id: number }>(
  importer: Importer<R>,
  tx: Tx,
  input: Record<string, unknown>,
  fields: CustomField[],
): Promise<{ id?: number; data: Record<string, unknown> }> {
  const { id, ...rest } = input;
  if (id !== undefined && (!Number.isInteger(id) || (id as number) <= 0))
    throw new ValidationError([{ field: "id", message: "must be a positive whole number" }]);
  return { id: id as number | undefined, data: (await importer.parse(tx, rest, fields)).data };
}

async function applyRow(context: Import, input: Record<string, unknown>): Promise<Outcome> {
  return context.kind === "user"
    ? await saveRow(USER_IMPORTER, context, input)
    : await saveRow(ORGANIZATION_IMPORTER, context, input);
}

/** Creates the record or updates the one the row names; an update that changes nothing answers the same row. */
async function saveRow<R extends { id: number }>(
  importer: Importer<R>,
  { tx, feed, fields, actor }: Import,
  input: Record<string, unknown>,
): Promise<Outcome> {
  const { id, data } = await parseRow(importer, tx, input, fields);
  const { byId, key, byKey } = importer.find;
  const keyValue = data[key];
  const existing =
    id !== undefined ? await byId(tx, id) : typeof keyValue === "string" ? await byKey(tx, keyValue) : undefined;
  const row = existing
    ? await importer.write.update(tx, feed, existing, data, fields, actor)
    : await importer.write.create(tx, feed, data, fields, actor);
  const action = !existing ? "create" : row === existing ? "unchanged" : "update";
  return { action, id: row.id, label: importer.label(row) };
}
