import type { Count } from "../domain/records";
import type { SessionInfo } from "../domain/sessions";
import { describeUsers } from "../domain/users";
import { isErrorOf } from "../errors";
import { renderFragment } from "../views";
import { flashCookie } from "../http/auth";
import type { AppContext } from "../http/context";
import { pathId } from "../http/params";
import { html, redirect } from "../http/responses";
import { Elysia } from "elysia";
import {
  errorStatus,
  formErrors,
  formView,
  htmxTarget,
  parseForm,
  queryString,
  submitRecordForm,
  type FieldSpec,
} from "../http/admin/forms";
import { listQuery, listResponse, type Cell, type ListQuery, type ListSpec } from "../http/admin/lists";
import type { PickerSource } from "../http/admin/pickers";
import { timelineEntries } from "../http/admin/present";
import { referenceFormat } from "./timeline-names";
import { adminPage } from "../http/admin/render";
import { requireSession } from "../http/auth";

/**
 * How one kind of record that tickets refer to (a person, an organization) is deleted from its page: the delete
 * zone says what happens, and when tickets still refer to the record it asks who or what takes them over
 * (reassign_to), then deletes.
 */
export type ReassigningDelete<T extends { id: number }> = {
  what: string;
  /** Where the list is: the record's page is `${list}/${id}`, and a deletion goes back to the list. */
  list: string;
  name: (record: T) => string;
  explain: string;
  reassignLabel: string;
  reassignHelp: string;
  /** What the reassign picker searches. */
  reassignSource: PickerSource;
  /** The conflict shown when tickets refer to the record. */
  blocked: (record: T) => string;
  /** Appended to the success message when the tickets were reassigned. */
  reassigned: string;
  load: (id: number) => Promise<T>;
  /** The id the typed reference (id, email, name…) names; throws an "invalid" error for reassign_to. */
  resolve: (typed: string) => Promise<number>;
  remove: (id: number, session: SessionInfo, reassignTo: number | undefined) => Promise<void>;
};

type ZoneState = {
  needsReassign?: boolean;
  conflict?: string | null;
  reassignValue?: string;
  reassignLabel?: string;
  reassignError?: string | null;
};

/** The delete zone's template data, first plain, then after a failed attempt (`state`). */
export function deleteZone<T extends { id: number }>(spec: ReassigningDelete<T>, record: T, state: ZoneState = {}) {
  return {
    what: spec.what,
    action: `${spec.list}/${record.id}/delete`,
    confirm: `Delete ${spec.name(record)}? This cannot be undone.`,
    explain: spec.explain,
    needsReassign: state.needsReassign ?? false,
    conflict: state.conflict ?? null,
    reassignLabel: spec.reassignLabel,
    reassignHelp: spec.reassignHelp,
    reassignError: state.reassignError ?? null,
    reassignPicker: {
      name: "reassign_to",
      id: "reassign_to",
      label: spec.reassignLabel,
      source: spec.reassignSource,
      value: state.reassignValue ?? "",
      pickLabel: state.reassignLabel ?? "",
      placeholder: "Search by name…",
      invalid: state.reassignError ? "true" : "false",
      describedBy: "reassign_to-help reassign_to-error",
    },
  };
}

/**
 * The delete POST: deletes and goes back to the list, or shows the delete zone again asking where the tickets go
 * (alone for htmx, else in the whole record page, `page`).
 */
async function submitDelete<T extends { id: number }>(
  ctx: AppContext,
  spec: ReassigningDelete<T>,
  request: Request,
  session: SessionInfo,
  id: number,
  body: unknown,
  page: (del: ReturnType<typeof deleteZone>, status: number) => Promise<Response>,
): Promise<Response> {
  const form = (body ?? {}) as Record<string, unknown>;
  // The picked id; without a pick (no JavaScript), what was typed: an email, a name or an id.
  const label = queryString(form.reassign_to__q);
  const typed = queryString(form.reassign_to) || label;
  try {
    const reassignTo = typed.trim() ? await spec.resolve(typed) : undefined;
    const record = await spec.load(id);
    await spec.remove(id, session, reassignTo);
    const note = reassignTo ? ` ${spec.reassigned}` : "";
    return redirect(request, spec.list, [
      flashCookie(ctx, { kind: "success", message: `${spec.name(record)} deleted.${note}` }),
    ]);
  } catch (err) {
    if (!isErrorOf(err, "conflict", "invalid")) throw err;
    const record = await spec.load(id);
    // A conflict that lists tickets (details) means tickets still refer to the record.
    const ticketsLeft = err.kind === "conflict" && Array.isArray(err.details);
    const del = deleteZone(spec, record, {
      needsReassign: true,
      conflict: ticketsLeft ? spec.blocked(record) : err.kind === "conflict" ? err.message : null,
      reassignValue: queryString(form.reassign_to),
      reassignLabel: label,
      reassignError: err.kind === "invalid" ? (formErrors(err).reassign_to ?? err.message) : null,
    });
    if (htmxTarget(request) === "delete-zone")
      return html(renderFragment("delete-record", { del }, session.csrfToken), { status: errorStatus(err) });
    return page(del, errorStatus(err));
  }
}

type ListPage = { rows: Cell[][]; nextCursor: string | null; total: Count };

/**
 * The list page of a kind of record: a page of records from its keyset listing, one row of cells
 * each, and how many match the search (the list's filters are the listing's own).
 */
export function keysetListPage<R>(
  list: (q: ListQuery) => Promise<{ data: R[]; next_cursor: string | null }>,
  count: (filter: { q?: string }) => Promise<Count>,
  cells: (record: R) => Cell[],
): (q: ListQuery) => Promise<ListPage> {
  return async (q) => {
    const page = await list(q);
    return { rows: page.data.map(cells), nextCursor: page.next_cursor, total: await count({ q: q.q || undefined }) };
  };
}

/**
 * A kind of record with custom fields that tickets refer to (people, organizations): its form, how it is created,
 * saved and named, its page, and how it is deleted.
 */
export type RecordKind<T extends { id: number }> = ReassigningDelete<T> & {
  listSpec: ListSpec;
  /** One page of the list's rows for a query. */
  listPage: (q: ListQuery) => Promise<ListPage>;
  section: string;
  /** The list's title, the new-record page's way back. */
  listLabel: string;
  fields: FieldSpec[];
  customSpecs: () => Promise<FieldSpec[]>;
  /** What a new record's form starts with. */
  newValues: Record<string, unknown>;
  /** More for the new-record page's template (a datalist). */
  newPageData?: () => Promise<Record<string, unknown>>;
  create: (input: Record<string, unknown>, session: SessionInfo) => Promise<T>;
  update: (id: number, input: Record<string, unknown>, session: SessionInfo) => Promise<T>;
  /** The record's page; `extra` brings back a failed form or delete zone, with its status. */
  page: (request: Request, session: SessionInfo, id: number, extra?: RecordPageExtra) => Promise<Response>;
};
/** A failed form or delete zone to show again, with its status; `editing` opens the form instead of the details. */
export type RecordPageExtra = { form?: unknown; del?: unknown; status?: number; editing?: boolean };

/** Whether a record's page shows its form (asked for, or answered with errors) rather than its details. */
export const isEditing = (extra: RecordPageExtra) => extra.editing === true || extra.form !== undefined;

/** A record's change events as its page's timeline, with who made each change and the names of what it refers to. */
export async function recordTimeline(
  { db, events }: AppContext,
  objectType: "user" | "organization",
  id: number,
  labels: Record<string, string>,
) {
  const history = await events.history(objectType, id);
  const actors = await describeUsers(
    db,
    history.map((e) => e.actorId),
  );
  return timelineEntries(history, actors, labels, await referenceFormat(db, history));
}

/** The record form's options: a new record's without an id, else the record's own. */
export const recordForm = <T extends { id: number }>(kind: RecordKind<T>, id?: number) =>
  id === undefined
    ? { action: kind.list, submitLabel: `Create ${kind.what}`, cancelHref: kind.list, specs: kind.fields }
    : {
        action: `${kind.list}/${id}`,
        submitLabel: "Save changes",
        cancelHref: `${kind.list}/${id}`,
        specs: kind.fields,
      };

/**
 * The routes of a record kind: its list, the new-record page, create, the record's page (details, or its form at
 * …/edit), save and delete.
 */
export function recordRoutes<T extends { id: number }>(ctx: AppContext, kind: RecordKind<T>) {
  const newPage = async (request: Request, session: SessionInfo, form: unknown, status = 200) =>
    adminPage(
      ctx,
      request,
      session,
      "record-new",
      {
        heading: `New ${kind.what}`,
        back: { href: kind.list, label: kind.listLabel },
        form,
        ...(await kind.newPageData?.()),
      },
      { title: `New ${kind.what}`, section: kind.section, status },
    );
  // The paths are built from kind.list, so Elysia cannot type their :id.
  const idOf = (params: Record<string, string | undefined>) => pathId(params.id ?? "", kind.what);
  /** The form's POST: a new record without `params`, else the record's :id. */
  const submit = async (request: Request, body: unknown, params?: Record<string, string | undefined>) => {
    const session = await requireSession(ctx, request);
    const id = params ? idOf(params) : undefined;
    const customSpecs = await kind.customSpecs();
    const save = async () => {
      const input = parseForm(body, [...kind.fields, ...customSpecs]);
      const record = id === undefined ? await kind.create(input, session) : await kind.update(id, input, session);
      return {
        to: `${kind.list}/${record.id}`,
        message: `${kind.name(record)} ${id === undefined ? "created" : "saved"}.`,
      };
    };
    return submitRecordForm(
      ctx,
      request,
      session,
      body,
      { ...recordForm(kind, id), customSpecs },
      save,
      async (form, status) =>
        id === undefined
          ? await newPage(request, session, form, status)
          : kind.page(request, session, id, { form, status }),
    );
  };

  return new Elysia()
    .get(kind.list, async ({ request, query }) => {
      const session = await requireSession(ctx, request);
      const q = listQuery(kind.listSpec, query);
      return listResponse(ctx, request, session, kind.listSpec, q, await kind.listPage(q));
    })
    .get(`${kind.list}/new`, async ({ request }) => {
      const session = await requireSession(ctx, request);
      const form = formView({ ...recordForm(kind), customSpecs: await kind.customSpecs(), values: kind.newValues });
      return newPage(request, session, form);
    })
    .post(kind.list, ({ request, body }) => submit(request, body))
    .get(`${kind.list}/:id`, async ({ request, params }) =>
      kind.page(request, await requireSession(ctx, request), idOf(params)),
    )
    .get(`${kind.list}/:id/edit`, async ({ request, params }) =>
      kind.page(request, await requireSession(ctx, request), idOf(params), { editing: true }),
    )
    .post(`${kind.list}/:id`, ({ request, params, body }) => submit(request, body, params))
    .post(`${kind.list}/:id/delete`, async ({ request, params, body }) => {
      const session = await requireSession(ctx, request);
      const id = idOf(params);
      return submitDelete(ctx, kind, request, session, id, body, (del, status) =>
        kind.page(request, session, id, { del, status }),
      );
    });
}
