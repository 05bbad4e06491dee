import type { ClearbitEnrichment } from "../enrichment/clearbit";
import { listCustomFields } from "../domain/custom-fields";
import type { SessionInfo } from "../domain/sessions";
import { listOrganizations } from "../domain/organizations";
import { listTickets } from "../domain/tickets";
import {
  countUsers,
  createUser,
  deleteUser,
  getUser,
  getUserProvenance,
  listUsers,
  resolveUserRef,
  updateUser,
  type UserJson,
  type UserListQuery,
} from "../domain/users";
import type { AppContext } from "../http/context";
import { customFieldSpecs, formView, uiActor, type FieldSpec } from "../http/admin/forms";
import { pageQuery, timeCell, type ListSpec } from "../http/admin/lists";
import { customEntries, detailRows, personName, shortTime, ticketRow } from "../http/admin/present";
import { personEnrichmentView } from "../enrichment/admin";
import { adminPage } from "../http/admin/render";
import * as records from "./record-pages";

/**
 * The person form: user columns (domain/users.ts COLUMN_OF) in reading order with labels. It differs
 * from that list on purpose: the organization is typed by name, and image, verified and out_of_office
 * are set through the API only.
 */
const PERSON_FIELDS: FieldSpec[] = [
  { name: "firstname", label: "First name", kind: "text", autocomplete: "off" },
  { name: "lastname", label: "Last name", kind: "text", autocomplete: "off" },
  { name: "email", label: "Email", kind: "email", autocomplete: "off" },
  { name: "login", label: "Login", kind: "text", empty: "omit", help: "Defaults to the email address." },
  { name: "phone", label: "Phone", kind: "tel" },
  { name: "mobile", label: "Mobile", kind: "tel" },
  {
    name: "organization",
    label: "Organization",
    kind: "text",
    list: "organization-options",
    aliases: ["organization_id"],
    help: "An existing organization's name; empty for none.",
  },
  { name: "web", label: "Website", kind: "url" },
  { name: "timezone", label: "Time zone", kind: "text", help: "For example Europe/Berlin." },
  { name: "address", label: "Address", kind: "textarea" },
  { name: "note", label: "Note", kind: "textarea" },
  { name: "vip", label: "VIP", kind: "checkbox" },
  { name: "active", label: "Active", kind: "checkbox" },
];

const DETAIL_LABELS: Record<string, string> = {
  ...Object.fromEntries(PERSON_FIELDS.map((f) => [f.name, f.label])),
  organization_id: "Organization",
  role_ids: "Roles",
  group_ids: "Groups",
  verified: "Verified",
  out_of_office: "Out of office",
};

const LIST: ListSpec = {
  path: "/people",
  csv: "/people",
  title: "People",
  section: "people",
  heading: "People",
  intro: "Customers and contacts, from the API, Segment identify calls and this UI.",
  newHref: "/people/new",
  newLabel: "New person",
  searchLabel: "Search people",
  searchPlaceholder: "Search by name, email, login or organization…",
  empty: "No people yet.",
  noun: ["person", "people"],
  columns: [
    { key: "name", label: "Name", sortable: true },
    { key: "email", label: "Email", sortable: true },
    { key: "organization", label: "Organization" },
    { key: "created_at", label: "Created", sortable: true, cls: "nowrap" },
    { key: "updated_at", label: "Updated", sortable: true, cls: "nowrap" },
    { key: "last_seen_at", label: "Last seen", sortable: true, cls: "nowrap" },
  ],
  defaultSort: { sort: "name", order: "asc" },
};

/** People: the list, a person's page, create, edit and delete. */
export function peoplePages(ctx: AppContext, clearbit: ClearbitEnrichment) {
  const { db, events } = ctx;
  const specsOf = async () => {
    const fields = await listCustomFields(db, "user");
    return { fields, customSpecs: customFieldSpecs(fields) };
  };
  const orgOptions = async () => ({
    id: "organization-options",
    options: (await listOrganizations(db, { limit: 500 })).data.map((o) => o.name),
  });

  const people: records.RecordKind<UserJson> = {
    listSpec: LIST,
    listPage: records.keysetListPage(
      (q) => listUsers(ctx, pageQuery<UserListQuery["sort"]>(q)),
      (filter) => countUsers(db, filter),
      (u) => [
        { text: personName(u), href: `/people/${u.id}`, sub: u.vip ? "VIP" : null },
        { text: u.email ?? "" },
        { text: u.organization ?? "", href: u.organization_id ? `/organizations/${u.organization_id}` : null },
        timeCell(u.created_at),
        timeCell(u.updated_at),
        timeCell(u.last_seen_at),
      ],
    ),
    what: "person",
    list: "/people",
    listLabel: "People",
    section: "people",
    name: personName,
    fields: PERSON_FIELDS,
    customSpecs: async () => (await specsOf()).customSpecs,
    newValues: { active: true },
    newPageData: async () => ({ datalist: await orgOptions() }),
    create: (input, session) => createUser(ctx, input, uiActor(session)),
    update: (id, input, session) => updateUser(ctx, id, input, uiActor(session)),
    page: (request, session, id, extra) => personPage(request, session, id, extra),
    explain:
      "Their change history stays in the event feed. " +
      "Tickets they are customer or owner of must go to someone else first.",
    reassignLabel: "Hand their tickets to",
    reassignSource: "people",
    reassignHelp: "That person becomes customer or owner of each ticket instead.",
    blocked: (p) => `${personName(p)} is customer or owner of tickets. Name who takes them over, then delete.`,
    reassigned: "Their tickets were handed over.",
    load: (id) => getUser(ctx, id),
    resolve: (typed) => resolveUserRef(db, typed, "reassign_to"),
    remove: (id, session, reassignTo) => deleteUser(db, events, id, uiActor(session), { reassignTo }),
  };

  const personPage = async (
    request: Request,
    session: SessionInfo,
    id: number,
    extra: records.RecordPageExtra = {},
  ) => {
    const p = await getUser(ctx, id);
    const { fields, customSpecs } = await specsOf();
    const provenance = await getUserProvenance(db, id);
    const builtIn = [
      { name: "firstname", label: "First name", value: p.firstname },
      { name: "lastname", label: "Last name", value: p.lastname },
      { name: "email", label: "Email", value: p.email },
      { name: "login", label: "Login", value: p.login },
      { name: "phone", label: "Phone", value: p.phone },
      { name: "mobile", label: "Mobile", value: p.mobile },
      {
        name: "organization_id",
        label: "Organization",
        value: p.organization,
        href: p.organization_id ? `/organizations/${p.organization_id}` : null,
      },
      { name: "web", label: "Website", value: p.web },
      { name: "address", label: "Address", value: p.address },
      { name: "timezone", label: "Time zone", value: p.timezone },
      { name: "note", label: "Note", value: p.note },
      { name: "vip", label: "VIP", value: p.vip },
      { name: "verified", label: "Verified", value: p.verified },
      { name: "active", label: "Active", value: p.active },
    ];
    const tickets = await listTickets(db, { customer_id: id, limit: 20 });
    const labels = { ...DETAIL_LABELS, ...Object.fromEntries(fields.map((f) => [f.name, f.label])) };
    const data = {
      person: {
        ...p,
        name: personName(p),
        roleList: p.roles.join(", "),
        lastSeen: shortTime(p.last_seen_at),
        created: shortTime(p.created_at),
        updated: shortTime(p.updated_at),
      },
      details: detailRows(builtIn, provenance),
      custom: { details: detailRows(customEntries(fields, p), provenance) },
      tickets: tickets.data.map(ticketRow),
      moreTickets: tickets.next_cursor !== null,
      timeline: await records.recordTimeline(ctx, "user", id, labels),
      form: extra.form ?? formView({ ...records.recordForm(people, id), customSpecs, values: p }),
      editing: records.isEditing(extra),
      del: extra.del ?? records.deleteZone(people, p),
      datalist: await orgOptions(),
      enrichment: await personEnrichmentView(ctx, clearbit, id),
    };
    return adminPage(ctx, request, session, "person", data, {
      title: personName(p),
      section: "people",
      status: extra.status,
    });
  };

  return records.recordRoutes(ctx, people);
}
