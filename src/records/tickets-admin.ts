import { pathId } from "../http/params";
import { Elysia } from "elysia";
import { listGroups } from "../domain/groups";
import type { SessionInfo } from "../domain/sessions";
import {
  createArticle,
  countTickets,
  createTicket,
  getAttachment,
  getTicket,
  listArticles,
  listTickets,
  PRIORITIES,
  STATES,
  ticketLookups,
  updateTicket,
  type TicketListQuery,
} from "../domain/tickets";
import { describeUsers } from "../domain/users";
import { renderFragment } from "../views";
import { flashCookie, requireSession } from "../http/auth";
import type { AppContext } from "../http/context";
import { humanSize } from "../http/human-size";
import { attachmentResponse, html, redirect } from "../http/responses";
import {
  errorStatus,
  formErrors,
  formView,
  htmxTarget,
  isHtmx,
  parseForm,
  typedValues,
  uiActor,
  uploadedFiles,
  type FieldSpec,
} from "../http/admin/forms";
import { listQuery, listResponse, PAGE_SIZE, timeCell, type ListSpec } from "../http/admin/lists";
import { withPickedLabels, type PickerSources } from "../http/admin/pickers";
import { personName, shortTime, stateBadge, timelineEntries } from "../http/admin/present";
import { referenceFormat } from "./timeline-names";
import { adminPage } from "../http/admin/render";

const LIST: ListSpec = {
  path: "/tickets",
  title: "Tickets",
  section: "tickets",
  heading: "Tickets",
  intro: "Conversations with customers, newest first.",
  searchLabel: "Search tickets",
  searchPlaceholder: "Search by title or ticket number…",
  newHref: "/tickets/new",
  newLabel: "New ticket",
  empty: "No tickets yet.",
  noun: ["ticket", "tickets"],
  columns: [
    { key: "number", label: "Number", sortable: true, cls: "nowrap" },
    { key: "title", label: "Title" },
    { key: "state", label: "State" },
    { key: "priority", label: "Priority", cls: "nowrap" },
    { key: "customer", label: "Customer" },
    { key: "owner", label: "Owner" },
    { key: "updated_at", label: "Updated", cls: "nowrap" },
  ],
  filters: [
    {
      name: "state",
      label: "State",
      choices: [{ value: "", label: "Any state" }, ...STATES.map((s) => ({ value: s, label: s }))],
    },
  ],
  defaultSort: { sort: "number", order: "desc" },
};

const TIMELINE_LABELS = {
  state_id: "State",
  priority_id: "Priority",
  owner_id: "Owner",
  customer_id: "Customer",
  group_id: "Group",
  organization_id: "Organization",
  article_count: "Articles",
  title: "Title",
  number: "Number",
};

const ARTICLE_FIELDS: FieldSpec[] = [
  { name: "subject", label: "Subject", kind: "text", empty: "omit" },
  {
    name: "type",
    label: "Type",
    kind: "select",
    required: true,
    options: [
      { value: "note", label: "Note" },
      { value: "email", label: "Email" },
      { value: "phone", label: "Phone call" },
      { value: "web", label: "Web" },
    ],
  },
  { name: "body", label: "Text", kind: "textarea", required: true },
  { name: "internal", label: "Internal (the customer does not see it)", kind: "checkbox" },
];

/**
 * Tickets: the list (state filter, search), a new ticket with its first article, a ticket's page with its
 * articles, new articles, changes to its title, customer, owner, state, priority and group, attachment downloads.
 */
export function ticketPages(ctx: AppContext, pickers: PickerSources) {
  const { db, events } = ctx;

  const groupSpec = async (): Promise<FieldSpec> => ({
    name: "group_id",
    label: "Group",
    kind: "select",
    numeric: true,
    options: (await listGroups(db)).map((g) => ({ value: String(g.id), label: g.name })),
  });
  const stateSpecs: FieldSpec[] = [
    { name: "state", label: "State", kind: "select", required: true, options: [...STATES] },
    { name: "priority", label: "Priority", kind: "select", required: true, options: [...PRIORITIES] },
  ];
  const customerSpec: FieldSpec = {
    name: "customer_id",
    label: "Customer",
    kind: "pick",
    source: "people",
    required: true,
    aliases: ["customer"],
    placeholder: "Search people by name or email…",
  };

  /** The properties an admin changes on a ticket; owners are the admins and agents. */
  const propertySpecs = async (): Promise<FieldSpec[]> => [
    { name: "title", label: "Title", kind: "text", required: true, wide: true, autocomplete: "off" },
    customerSpec,
    { name: "owner_id", label: "Owner", kind: "pick", source: "staff", placeholder: "Search admins and agents…" },
    ...stateSpecs,
    await groupSpec(),
  ];

  /** A new ticket: its properties and its first article. */
  const newTicketSpecs = async (): Promise<FieldSpec[]> => [
    { name: "title", label: "Title", kind: "text", required: true, wide: true, autocomplete: "off" },
    customerSpec,
    await groupSpec(),
    ...stateSpecs,
    { ...ARTICLE_FIELDS[1]!, name: "article_type", label: "First article: type" },
    { name: "subject", label: "Subject", kind: "text", empty: "omit", aliases: ["article.subject"] },
    { name: "body", label: "First article: text", kind: "textarea", aliases: ["article.body", "article"] },
    { name: "internal", label: "Internal (the customer does not see it)", kind: "checkbox" },
  ];
  const newForm = async () => ({
    action: "/tickets",
    submitLabel: "Create ticket",
    cancelHref: "/tickets",
    specs: await newTicketSpecs(),
  });
  const editForm = async (id: number) => ({
    action: `/tickets/${id}`,
    submitLabel: "Update ticket",
    specs: await propertySpecs(),
  });

  /** The form's fields as createTicket's input: the article fields become the first article (when it has text). */
  const newTicketInput = (form: Record<string, unknown>) => {
    const { article_type, subject, body, internal, ...ticket } = form;
    return body ? { ...ticket, article: { type: article_type, subject, body, internal } } : ticket;
  };

  const newTicketPage = (request: Request, session: SessionInfo, form: unknown, status = 200) =>
    adminPage(
      ctx,
      request,
      session,
      "record-new",
      { heading: "New ticket", back: { href: "/tickets", label: "Tickets" }, form },
      { title: "New ticket", section: "tickets", status },
    );

  const ticketPage = async (
    request: Request,
    session: SessionInfo,
    id: number,
    extra: { form?: unknown; articleForm?: unknown; status?: number } = {},
  ) => {
    const t = await getTicket(db, id);
    const lookups = await ticketLookups(db, [t]);
    const articles = await listArticles(db, id);
    const authors = await describeUsers(
      db,
      articles.map((a) => a.origin_by_id),
    );
    const history = await events.history("ticket", id);
    const actors = await describeUsers(
      db,
      history.map((e) => e.actorId),
    );
    const customer = lookups.users.get(t.customer_id);
    const form = await editForm(id);
    const names = await referenceFormat(db, history);
    const owner = t.owner_id !== null ? lookups.users.get(t.owner_id) : undefined;
    const data = {
      ticket: {
        ...t,
        stateBadge: stateBadge(t.state),
        customer: customer ? { id: customer.id, name: personName(customer), email: customer.email } : null,
        owner: owner ? personName(owner) : null,
        organization: t.organization_id
          ? { id: t.organization_id, name: lookups.organizations.get(t.organization_id) ?? `#${t.organization_id}` }
          : null,
        group: t.group_id ? (lookups.groups.get(t.group_id) ?? null) : null,
        created: shortTime(t.created_at),
        updated: shortTime(t.updated_at),
        lastContact: shortTime(t.last_contact_at),
      },
      articles: articles.map((a) => {
        const author = a.origin_by_id !== null ? authors.get(a.origin_by_id) : undefined;
        return {
          ...a,
          author: author ? personName(author) : (a.from ?? a.sender),
          time: shortTime(a.created_at),
          // Stored HTML is shown as its text: mail markup never runs in the admin's browser.
          text: a.content_type === "text/html" ? a.body.replace(/<[^>]*>/g, "") : a.body,
          files: a.attachments.map((f) => ({ ...f, href: `/attachments/${f.id}`, size: humanSize(f.size) })),
        };
      }),
      form: extra.form ?? formView({ ...form, values: await withPickedLabels(pickers, form.specs, t) }),
      articleForm: extra.articleForm ?? articleFormView(id, { type: "note" }),
      timeline: timelineEntries(history, actors, TIMELINE_LABELS, (field, v) => {
        if (field === "state_id" && typeof v === "number") return STATES[v - 1] ?? String(v);
        if (field === "priority_id" && typeof v === "number") return PRIORITIES[v - 1] ?? String(v);
        return names(field, v);
      }),
    };
    return adminPage(ctx, request, session, "ticket", data, {
      title: `#${t.number} ${t.title}`,
      section: "tickets",
      status: extra.status,
    });
  };

  const articleFormView = (id: number, values: Record<string, unknown>, errors: Record<string, string> = {}) => ({
    ...formView({
      action: `/tickets/${id}/articles`,
      submitLabel: "Add article",
      specs: ARTICLE_FIELDS,
      values,
      errors,
    }),
    // Checked in the browser before sending (/assets/forms.js): the server refuses a larger body unread.
    maxBytes: ctx.config.bodyLimit,
    maxSize: humanSize(ctx.config.bodyLimit),
  });

  return new Elysia()
    .get("/tickets", async ({ request, query }) => {
      const session = await requireSession(ctx, request);
      const q = listQuery(LIST, query);
      const page = await listTickets(db, {
        q: q.q || undefined,
        state: q.filters.state as TicketListQuery["state"],
        order: q.order,
        cursor: q.cursor,
        limit: PAGE_SIZE,
      });
      const lookups = await ticketLookups(db, page.data);
      const name = (id: number | null) => {
        const u = id !== null ? lookups.users.get(id) : undefined;
        return u ? personName(u) : "";
      };
      const rows = page.data.map((t) => [
        { text: `#${t.number}`, href: `/tickets/${t.id}`, cls: "nowrap" },
        { text: t.title, href: `/tickets/${t.id}` },
        { text: t.state, badge: stateBadge(t.state) },
        { text: t.priority, cls: "nowrap" },
        {
          text: name(t.customer_id),
          href: `/people/${t.customer_id}`,
          sub: t.organization_id ? (lookups.organizations.get(t.organization_id) ?? null) : null,
        },
        { text: name(t.owner_id) },
        timeCell(t.updated_at),
      ]);
      const total = await countTickets(db, { q: q.q || undefined, state: q.filters.state as TicketListQuery["state"] });
      return listResponse(ctx, request, session, LIST, q, { rows, nextCursor: page.next_cursor, total });
    })
    .get("/tickets/new", async ({ request }) => {
      const session = await requireSession(ctx, request);
      return newTicketPage(
        request,
        session,
        formView({ ...(await newForm()), values: { state: "new", priority: "2 normal", article_type: "note" } }),
      );
    })
    .post("/tickets", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      const form = await newForm();
      try {
        const { ticket } = await createTicket(
          db,
          events,
          newTicketInput(parseForm(body, form.specs)),
          uiActor(session),
        );
        return redirect(request, `/tickets/${ticket.id}`, [
          flashCookie(ctx, { kind: "success", message: `Ticket #${ticket.number} created.` }),
        ]);
      } catch (err) {
        const failed = formView({ ...form, values: typedValues(body), errors: formErrors(err) });
        if (htmxTarget(request) === "record-form")
          return html(renderFragment("record-form", { form: failed }, session.csrfToken), { status: errorStatus(err) });
        return newTicketPage(request, session, failed, errorStatus(err));
      }
    })
    .get("/tickets/:id", async ({ request, params }) =>
      ticketPage(request, await requireSession(ctx, request), pathId(params.id, "ticket")),
    )
    .post("/tickets/:id", async ({ request, params, body }) => {
      const session = await requireSession(ctx, request);
      const id = pathId(params.id, "ticket");
      await getTicket(db, id);
      const edit = await editForm(id);
      try {
        const t = await updateTicket(db, events, id, parseForm(body, edit.specs), uiActor(session));
        return redirect(request, `/tickets/${id}`, [
          flashCookie(ctx, { kind: "success", message: `Ticket #${t.number} updated.` }),
        ]);
      } catch (err) {
        const form = formView({ ...edit, values: typedValues(body), errors: formErrors(err) });
        if (htmxTarget(request) === "record-form")
          return html(renderFragment("record-form", { form }, session.csrfToken), { status: errorStatus(err) });
        return ticketPage(request, session, id, { form, status: errorStatus(err) });
      }
    })
    .post("/tickets/:id/articles", async ({ request, params, body }) => {
      const session = await requireSession(ctx, request);
      const id = pathId(params.id, "ticket");
      try {
        const input = {
          ...parseForm(body, ARTICLE_FIELDS),
          attachments: await uploadedFiles(body, "attachments"),
          ticket_id: id,
        };
        const article = await createArticle(db, events, input, uiActor(session));
        // htmx reloads the same page (a new fragment alone would only scroll);
        // without JS the new article is scrolled to.
        const location = isHtmx(request) ? `/tickets/${id}` : `/tickets/${id}#article-${article.id}`;
        return redirect(request, location, [flashCookie(ctx, { kind: "success", message: "Article added." })]);
      } catch (err) {
        const articleForm = articleFormView(id, typedValues(body), formErrors(err));
        if (htmxTarget(request) === "article-form")
          return html(renderFragment("article-form", { articleForm }, session.csrfToken), { status: errorStatus(err) });
        return ticketPage(request, session, id, { articleForm, status: errorStatus(err) });
      }
    })
    .get("/attachments/:id", async ({ request, params }) => {
      await requireSession(ctx, request);
      return attachmentResponse(await getAttachment(db, pathId(params.id, "attachment")));
    });
}
