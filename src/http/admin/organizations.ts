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
import { requireSession } from "../auth";
import type { AppContext } from "../context";
import { customFieldSpecs, formView, parseForm, submitRecordForm, uiActor, type FieldSpec } from "./forms";
import { listQuery, listResponse, PAGE_SIZE, type ListSpec } from "./lists";
import { customEntries, detailRows, personName, shortTime, ticketRow, timelineEntries } from "./present";
import { adminPage } from "./render";
import { deleteZone, submitDelete, type ReassigningDelete } from "./reassigning-delete";

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

  const newForm = {
    action: "/organizations",
    submitLabel: "Create organization",
    cancelHref: "/organizations",
    specs: ORGANIZATION_FIELDS,
  };
  const editForm = (id: number) => ({
    action: `/organizations/${id}`,
    submitLabel: "Save changes",
    specs: ORGANIZATION_FIELDS,
  });

  const deletion: ReassigningDelete<OrganizationJson> = {
    what: "organization",
    list: "/organizations",
    name: (o) => o.name,
    explain: "Its members stay, without an organization. Its tickets must move to another organization first.",
    reassignLabel: "Move its tickets to (organization id or name)",
    reassignHelp: "Each ticket then belongs to that organization.",
    blocked: (o) => `${o.name} has tickets. Name the organization they move to, then delete.`,
    reassigned: "Its tickets were moved.",
    load: (id) => getOrganization(db, id),
    resolve: (typed) => resolveOrganizationRef(db, typed, "reassign_to"),
    remove: (id, session, reassignTo) => deleteOrganization(db, events, id, uiActor(session), { reassignTo }),
  };

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
      tickets: tickets.data.map(ticketRow),
      timeline: timelineEntries(history, actors, {
        ...LABELS,
        ...Object.fromEntries(fields.map((f) => [f.name, f.label])),
      }),
      form: extra.form ?? formView({ ...editForm(id), customSpecs: customSpecsOf(), values: o }),
      del: extra.del ?? deleteZone(deletion, o),
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
        formView({ ...newForm, customSpecs: customSpecsOf(), values: { active: true, shared: true } }),
      );
    })
    .post("/organizations", ({ request, body }) => {
      const session = requireSession(ctx, request);
      const customSpecs = customSpecsOf();
      return submitRecordForm(
        ctx,
        request,
        session,
        body,
        { ...newForm, customSpecs },
        () => {
          const input = parseForm(body, [...ORGANIZATION_FIELDS, ...customSpecs]);
          const org = createOrganization(db, events, input, uiActor(session));
          return { to: `/organizations/${org.id}`, message: `${org.name} created.` };
        },
        (form, status) => newPage(request, session, form, status),
      );
    })
    .get("/organizations/:id", ({ request, params }) =>
      orgPage(request, requireSession(ctx, request), pathId(params.id, "organization")),
    )
    .post("/organizations/:id", ({ request, params, body }) => {
      const session = requireSession(ctx, request);
      const id = pathId(params.id, "organization");
      const customSpecs = customSpecsOf();
      return submitRecordForm(
        ctx,
        request,
        session,
        body,
        { ...editForm(id), customSpecs },
        () => {
          const input = parseForm(body, [...ORGANIZATION_FIELDS, ...customSpecs]);
          const org = updateOrganization(db, events, id, input, uiActor(session));
          return { to: `/organizations/${id}`, message: `${org.name} saved.` };
        },
        (form, status) => orgPage(request, session, id, { form, status }),
      );
    })
    .post("/organizations/:id/delete", ({ request, params, body }) => {
      const session = requireSession(ctx, request);
      const id = pathId(params.id, "organization");
      return submitDelete(ctx, deletion, request, session, id, body, (del, status) =>
        orgPage(request, session, id, { del, status }),
      );
    });
}
