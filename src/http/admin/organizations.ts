import { pathId } from "../params";
import { Elysia } from "elysia";
import { listCustomFields } from "../../domain/custom-fields";
import {
  createOrganization,
  deleteOrganization,
  getOrganization,
  getOrganizationProvenance,
  listOrganizations,
  resolveOrganizationRef,
  updateOrganization,
  type OrganizationJson,
  type OrganizationListQuery,
} from "../../domain/organizations";
import type { SessionInfo } from "../../domain/sessions";
import { listTickets } from "../../domain/tickets";
import { describeUsers, listUsers } from "../../domain/users";
import { isErrorOf } from "../../errors";
import { renderFragment } from "../../views";
import { flashCookie, requireSession } from "../auth";
import type { AppContext } from "../context";
import { html, redirect } from "../responses";
import {
  customFieldSpecs,
  errorStatus,
  formErrors,
  formView,
  htmxTarget,
  parseForm,
  queryString,
  typedValues,
  uiActor,
  type FieldSpec,
} from "./forms";
import { listQuery, listResponse, PAGE_SIZE, type ListSpec } from "./lists";
import { customEntries, detailRows, personName, shortTime, stateBadge, timelineEntries } from "./present";
import { adminPage } from "./render";

const ORGANIZATION_FIELDS: FieldSpec[] = [
  { name: "name", label: "Name", kind: "text", required: true, autocomplete: "off" },
  { name: "domain", label: "Domain", kind: "text", help: "For example example.com." },
  { name: "note", label: "Note", kind: "textarea" },
  { name: "domain_assignment", label: "Assign people with this email domain", kind: "checkbox" },
  { name: "shared", label: "Shared (members see each other's tickets)", kind: "checkbox" },
  { name: "active", label: "Active", kind: "checkbox" },
];
const LABELS: Record<string, string> = Object.fromEntries(ORGANIZATION_FIELDS.map((f) => [f.name, f.label]));

const LIST: ListSpec = {
  path: "/organizations",
  csv: "/organizations",
  title: "Organizations",
  section: "organizations",
  heading: "Organizations",
  intro: "Companies the people you know belong to.",
  newHref: "/organizations/new",
  newLabel: "New organization",
  searchLabel: "Search organizations",
  searchPlaceholder: "Search by name or domain…",
  empty: "No organizations match.",
  noun: ["organization", "organizations"],
  columns: [
    { key: "name", label: "Name", sortable: true },
    { key: "domain", label: "Domain" },
    { key: "members", label: "Members", cls: "num" },
    { key: "created_at", label: "Created", cls: "nowrap" },
    { key: "updated_at", label: "Updated", cls: "nowrap" },
  ],
  defaultSort: { sort: "name", order: "asc" },
};

/** Organizations: the list, an organization's page with its members, create, edit and delete. */
export function organizationPages(ctx: AppContext) {
  const { db, events } = ctx;
  const customSpecsOf = () => customFieldSpecs(listCustomFields(db, "organization"));

  const deleteView = (
    o: OrganizationJson,
    state: {
      needsReassign?: boolean;
      conflict?: string | null;
      reassignValue?: string;
      reassignError?: string | null;
    } = {},
  ) => ({
    what: "organization",
    action: `/organizations/${o.id}/delete`,
    confirm: `Delete ${o.name}? This cannot be undone.`,
    explain: "Its members stay, without an organization. Its tickets must move to another organization first.",
    needsReassign: state.needsReassign ?? false,
    conflict: state.conflict ?? null,
    reassignLabel: "Move its tickets to (organization id or name)",
    reassignHelp: "Each ticket then belongs to that organization.",
    reassignValue: state.reassignValue ?? "",
    reassignError: state.reassignError ?? null,
  });

  const orgPage = (
    request: Request,
    session: SessionInfo,
    id: number,
    extra: { form?: unknown; del?: unknown; status?: number } = {},
  ) => {
    const o = getOrganization(db, id);
    const fields = listCustomFields(db, "organization");
    const provenance = getOrganizationProvenance(db, id);
    const members = listUsers(ctx, { organization_id: id, sort: "name", limit: 50 });
    const tickets = listTickets(db, { organization_id: id, limit: 20 });
    const history = events.history("organization", id);
    const actors = describeUsers(
      db,
      history.map((e) => e.actorId),
    );
    const builtIn = ORGANIZATION_FIELDS.map((f) => ({
      name: f.name,
      label: f.label,
      value: (o as Record<string, unknown>)[f.name],
    }));
    const data = {
      org: { ...o, created: shortTime(o.created_at), updated: shortTime(o.updated_at) },
      details: detailRows(builtIn, provenance),
      custom: { details: detailRows(customEntries(fields, o), provenance) },
      members: members.data.map((u) => ({ id: u.id, name: personName(u), email: u.email })),
      moreMembers: members.next_cursor ? `/people?q=${encodeURIComponent(o.name)}` : null,
      tickets: tickets.data.map((t) => ({
        id: t.id,
        number: t.number,
        title: t.title,
        state: t.state,
        stateBadge: stateBadge(t.state),
        updated: shortTime(t.updated_at),
      })),
      timeline: timelineEntries(history, actors, {
        ...LABELS,
        ...Object.fromEntries(fields.map((f) => [f.name, f.label])),
      }),
      form:
        extra.form ??
        formView({
          action: `/organizations/${id}`,
          submitLabel: "Save changes",
          specs: ORGANIZATION_FIELDS,
          customSpecs: customSpecsOf(),
          values: o,
        }),
      del: extra.del ?? deleteView(o),
    };
    return adminPage(ctx, request, session, "organization", data, {
      title: o.name,
      section: "organizations",
      status: extra.status,
    });
  };

  const newPage = (request: Request, session: SessionInfo, form: unknown, status = 200) =>
    adminPage(
      ctx,
      request,
      session,
      "record-new",
      { heading: "New organization", back: { href: "/organizations", label: "Organizations" }, form },
      { title: "New organization", section: "organizations", status },
    );

  const formFailed = (request: Request, session: SessionInfo, form: unknown, status: number, page: () => Response) =>
    htmxTarget(request) === "record-form"
      ? html(renderFragment("record-form", { form }, session.csrfToken), { status })
      : page();

  return new Elysia()
    .get("/organizations", ({ request, query }) => {
      const session = requireSession(ctx, request);
      const q = listQuery(LIST, query);
      const page = listOrganizations(db, {
        q: q.q || undefined,
        sort: q.sort as OrganizationListQuery["sort"],
        order: q.order,
        cursor: q.cursor,
        limit: PAGE_SIZE,
      });
      const rows = page.data.map((o) => [
        { text: o.name, href: `/organizations/${o.id}`, sub: o.active ? null : "inactive" },
        { text: o.domain ?? "" },
        { text: String(o.member_count), cls: "num" },
        { text: shortTime(o.created_at), cls: "nowrap" },
        { text: shortTime(o.updated_at), cls: "nowrap" },
      ]);
      return listResponse(ctx, request, session, LIST, q, { rows, nextCursor: page.next_cursor });
    })
    .get("/organizations/new", ({ request }) => {
      const session = requireSession(ctx, request);
      return newPage(
        request,
        session,
        formView({
          action: "/organizations",
          submitLabel: "Create organization",
          cancelHref: "/organizations",
          specs: ORGANIZATION_FIELDS,
          customSpecs: customSpecsOf(),
          values: { active: true, shared: true },
        }),
      );
    })
    .post("/organizations", ({ request, body }) => {
      const session = requireSession(ctx, request);
      const customSpecs = customSpecsOf();
      try {
        const org = createOrganization(
          db,
          events,
          parseForm(body, [...ORGANIZATION_FIELDS, ...customSpecs]),
          uiActor(session),
        );
        return redirect(request, `/organizations/${org.id}`, [
          flashCookie(ctx, { kind: "success", message: `${org.name} created.` }),
        ]);
      } catch (err) {
        const form = formView({
          action: "/organizations",
          submitLabel: "Create organization",
          cancelHref: "/organizations",
          specs: ORGANIZATION_FIELDS,
          customSpecs,
          values: typedValues(body),
          errors: formErrors(err),
        });
        return formFailed(request, session, form, errorStatus(err), () =>
          newPage(request, session, form, errorStatus(err)),
        );
      }
    })
    .get("/organizations/:id", ({ request, params }) =>
      orgPage(request, requireSession(ctx, request), pathId(params.id, "organization")),
    )
    .post("/organizations/:id", ({ request, params, body }) => {
      const session = requireSession(ctx, request);
      const id = pathId(params.id, "organization");
      const customSpecs = customSpecsOf();
      try {
        const org = updateOrganization(
          db,
          events,
          id,
          parseForm(body, [...ORGANIZATION_FIELDS, ...customSpecs]),
          uiActor(session),
        );
        return redirect(request, `/organizations/${id}`, [
          flashCookie(ctx, { kind: "success", message: `${org.name} saved.` }),
        ]);
      } catch (err) {
        const form = formView({
          action: `/organizations/${id}`,
          submitLabel: "Save changes",
          specs: ORGANIZATION_FIELDS,
          customSpecs,
          values: typedValues(body),
          errors: formErrors(err),
        });
        return formFailed(request, session, form, errorStatus(err), () =>
          orgPage(request, session, id, { form, status: errorStatus(err) }),
        );
      }
    })
    .post("/organizations/:id/delete", ({ request, params, body }) => {
      const session = requireSession(ctx, request);
      const id = pathId(params.id, "organization");
      const typed = queryString((body as Record<string, unknown> | undefined)?.reassign_to);
      try {
        const reassignTo = typed.trim() ? resolveOrganizationRef(db, typed, "reassign_to") : undefined;
        const org = getOrganization(db, id);
        deleteOrganization(db, events, id, uiActor(session), { reassignTo });
        const moved = reassignTo ? " Its tickets were moved." : "";
        return redirect(request, "/organizations", [
          flashCookie(ctx, { kind: "success", message: `${org.name} deleted.${moved}` }),
        ]);
      } catch (err) {
        if (!isErrorOf(err, "conflict", "invalid")) throw err;
        const org = getOrganization(db, id);
        const hasTickets = err.kind === "conflict" && Array.isArray(err.details);
        const del = deleteView(org, {
          needsReassign: true,
          conflict: hasTickets
            ? `${org.name} has tickets. Name the organization they move to, then delete.`
            : err.kind === "conflict"
              ? err.message
              : null,
          reassignValue: typed,
          reassignError: err.kind === "invalid" ? (formErrors(err).reassign_to ?? err.message) : null,
        });
        if (htmxTarget(request) === "delete-zone")
          return html(renderFragment("delete-record", { del }, session.csrfToken), { status: errorStatus(err) });
        return orgPage(request, session, id, { del, status: errorStatus(err) });
      }
    });
}
