import { listCustomFields } from "../domain/custom-fields";
import {
  createOrganization,
  deleteOrganization,
  getOrganization,
  getOrganizationProvenance,
  countOrganizations,
  listOrganizations,
  resolveOrganizationRef,
  updateOrganization,
  type OrganizationJson,
  type OrganizationListQuery,
} from "../domain/organizations";
import type { SessionInfo } from "../domain/sessions";
import { listTickets } from "../domain/tickets";
import { listUsers } from "../domain/users";
import type { AppContext } from "../http/context";
import { customFieldSpecs, formView, uiActor, type FieldSpec } from "../http/admin/forms";
import { pageQuery, timeCell, type ListSpec } from "../http/admin/lists";
import { customEntries, detailRows, personName, shortTime, ticketRow } from "../http/admin/present";
import { adminPage } from "../http/admin/render";
import * as records from "./record-pages";

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
  empty: "No organizations yet.",
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
  const customSpecsOf = async () => customFieldSpecs(await listCustomFields(db, "organization"));

  const organizationKind: records.RecordKind<OrganizationJson> = {
    listSpec: LIST,
    listPage: records.keysetListPage(
      (q) => listOrganizations(db, pageQuery<OrganizationListQuery["sort"]>(q)),
      (filter) => countOrganizations(db, filter),
      (o) => [
        { text: o.name, href: `/organizations/${o.id}`, sub: o.active ? null : "inactive" },
        { text: o.domain ?? "" },
        { text: String(o.member_count), cls: "num" },
        timeCell(o.created_at),
        timeCell(o.updated_at),
      ],
    ),
    what: "organization",
    list: "/organizations",
    listLabel: "Organizations",
    section: "organizations",
    name: (o) => o.name,
    fields: ORGANIZATION_FIELDS,
    customSpecs: customSpecsOf,
    newValues: { active: true, shared: true },
    create: (input, session) => createOrganization(db, events, input, uiActor(session)),
    update: (id, input, session) => updateOrganization(db, events, id, input, uiActor(session)),
    page: (request, session, id, extra) => orgPage(request, session, id, extra),
    explain: "Its members stay, without an organization. Its tickets must move to another organization first.",
    reassignLabel: "Move its tickets to",
    reassignSource: "organizations",
    reassignHelp: "Each ticket then belongs to that organization.",
    blocked: (o) => `${o.name} has tickets. Name the organization they move to, then delete.`,
    reassigned: "Its tickets were moved.",
    load: (id) => getOrganization(db, id),
    resolve: (typed) => resolveOrganizationRef(db, typed, "reassign_to"),
    remove: (id, session, reassignTo) => deleteOrganization(db, events, id, uiActor(session), { reassignTo }),
  };

  const orgPage = async (request: Request, session: SessionInfo, id: number, extra: records.RecordPageExtra = {}) => {
    const o = await getOrganization(db, id);
    const fields = await listCustomFields(db, "organization");
    const provenance = await getOrganizationProvenance(db, id);
    const members = await listUsers(ctx, { organization_id: id, sort: "name", limit: 50 });
    const tickets = await listTickets(db, { organization_id: id, limit: 20 });
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
      timeline: await records.recordTimeline(ctx, "organization", id, {
        ...LABELS,
        ...Object.fromEntries(fields.map((f) => [f.name, f.label])),
      }),
      form:
        extra.form ??
        formView({ ...records.recordForm(organizationKind, id), customSpecs: await customSpecsOf(), values: o }),
      editing: records.isEditing(extra),
      del: extra.del ?? records.deleteZone(organizationKind, o),
    };
    return adminPage(ctx, request, session, "organization", data, {
      title: o.name,
      section: "organizations",
      status: extra.status,
    });
  };

  return records.recordRoutes(ctx, organizationKind);
}
