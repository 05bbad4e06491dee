import { Elysia } from "elysia";
import { z } from "zod";
import {
  createCustomField,
  deleteCustomField,
  fieldDefinition,
  fieldUpdate,
  getCustomField,
  listCustomFields,
  updateCustomField,
  type CustomField,
} from "../domain/custom-fields";
import {
  createGroup,
  deleteGroup,
  getGroupRow,
  groupInputModel,
  groupJson,
  listGroups,
  updateGroup,
} from "../domain/groups";
import {
  createOrganization,
  deleteOrganization,
  getOrganization,
  getOrganizationProvenance,
  listOrganizations,
  organizationInputModel,
  replaceOrganization,
  updateOrganization,
} from "../domain/organizations";
import {
  createArticle,
  createTicket,
  deleteTicket,
  getArticle,
  getAttachment,
  getTicket,
  listArticles,
  listTickets,
  newArticleInput,
  newTicketInput,
  ticketUpdateInput,
  updateTicket,
} from "../domain/tickets";
import {
  createUser,
  deleteUser,
  getUser,
  getUserProvenance,
  listUsers,
  replaceUser,
  updateUser,
  upsertUserByEmail,
  userInputModel,
} from "../domain/users";
import { exportCsv, importCsv, type ImportReport } from "../csv/records-csv";
import { readCsvFile, spoolUpload, uploadsDir } from "../csv/upload";
import { badRequest, errorBody } from "../errors";
import { list, op, page, parseQuery } from "../http/api/operation";
import {
  articleModel,
  customFieldModel,
  customFieldsQuery,
  eventModel,
  eventsQuery,
  groupModel,
  importQuery,
  importReportModel,
  newTicketModel,
  organizationModel,
  organizationsQuery,
  provenanceModel,
  reassignQuery,
  ticketModel,
  ticketsQuery,
  userModel,
  usersQuery,
} from "./models";
import type { ChangeEvent } from "../events/feed";
import { requireApiToken } from "../http/auth";
import type { AppContext } from "../http/context";
import { attachmentResponse, csvDownload, json } from "../http/responses";
import { apiActor, noContent, pathId } from "../http/params";

const fieldJson = (f: CustomField) => ({
  id: f.id,
  object_type: f.objectType,
  name: f.name,
  label: f.label,
  type: f.type,
  options: f.options,
  required: f.required,
  position: f.position,
  created_at: f.createdAt.toISOString(),
  updated_at: f.updatedAt.toISOString(),
});
const eventJson = (e: ChangeEvent) => ({
  id: e.id,
  type: e.type,
  object_type: e.objectType,
  object_id: e.objectId,
  changes: e.changes,
  actor_id: e.actorId,
  source: e.source,
  created_at: e.createdAt.toISOString(),
});
const provenanceJson = (p: Record<string, { source: string; at: number }>) =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, { source: v.source, at: new Date(v.at).toISOString() }]));

/** REST for people, organizations, groups, tickets, articles, attachments, custom fields and the event feed. */
export function recordsApi(ctx: AppContext) {
  const { db, events } = ctx;
  const uploads = uploadsDir(ctx.config.dataDir);
  /** The caller is authenticated before the body is read; the body goes to disk, not memory. */
  const importFromBody = async (kind: "user" | "organization", request: Request, query: unknown) => {
    const actor = { ...(await apiActor(ctx, request)), source: "import" as const };
    if (!/^text\/csv\b/i.test(request.headers.get("content-type") ?? ""))
      throw badRequest("send the CSV file as the body with Content-Type: text/csv");
    const upload = await spoolUpload(uploads, request.body);
    try {
      const report = await importCsv(db, events, kind, readCsvFile(upload.path), actor, {
        dryRun: parseQuery(importQuery, query).dry_run ?? false,
      });
      return importResponse(report);
    } finally {
      upload.remove();
    }
  };
  return (
    new Elysia({ prefix: "/api/v1" })
      // People
      .get(
        "/users",
        async ({ request, query }) => (
          await requireApiToken(ctx, request), json(await listUsers(ctx, parseQuery(usersQuery, query)))
        ),
        op({
          summary: "List people: search (q), filters, sort and cursor pagination",
          query: usersQuery,
          response: page(userModel),
        }),
      )
      .post(
        "/users",
        async ({ request, body }) => json(await createUser(ctx, body, await apiActor(ctx, request)), 201),
        op({ summary: "Create a person", body: userInputModel, response: userModel, status: 201 }),
      )
      .get(
        "/users/:id",
        async ({ request, params }) => (
          await requireApiToken(ctx, request), json(await getUser(ctx, pathId(params.id, "user")))
        ),
        op({ summary: "Read a person", response: userModel }),
      )
      .patch(
        "/users/:id",
        async ({ request, params, body }) =>
          json(await updateUser(ctx, pathId(params.id, "user"), body, await apiActor(ctx, request))),
        op({ summary: "Change some fields of a person", body: userInputModel, response: userModel }),
      )
      .put(
        "/users/:id",
        async ({ request, params, body }) =>
          json(await replaceUser(ctx, pathId(params.id, "user"), body, await apiActor(ctx, request))),
        op({
          summary:
            "Replace a person: fields left out are cleared to their defaults " +
            "(the login and roles are kept unless given)",
          body: userInputModel,
          response: userModel,
        }),
      )
      .delete(
        "/users/:id",
        async ({ request, params, query }) => {
          await deleteUser(db, events, pathId(params.id, "user"), await apiActor(ctx, request), {
            reassignTo: parseQuery(reassignQuery, query).reassign_to,
          });
          return noContent();
        },
        op({
          summary: "Delete a person (a conflict with tickets unless reassign_to is given)",
          query: reassignQuery,
          response: null,
        }),
      )
      .put(
        "/users/by-email/:email",
        async ({ request, params, body }) => {
          const { user, created } = await upsertUserByEmail(
            ctx,
            decodeURIComponent(params.email),
            body ?? {},
            await apiActor(ctx, request),
          );
          return json(user, created ? 201 : 200);
        },
        op({ summary: "Create or update the person with this email", body: userInputModel, response: userModel }),
      )
      .get(
        "/users/:id/provenance",
        async ({ request, params }) => (
          await requireApiToken(ctx, request),
          json(provenanceJson(await getUserProvenance(db, pathId(params.id, "user"))))
        ),
        op({ summary: "Which source last wrote each field of a person, and when", response: provenanceModel }),
      )
      .get(
        "/users/:id/events",
        async ({ request, params }) => (
          await requireApiToken(ctx, request),
          json({ data: (await events.history("user", pathId(params.id, "user"))).map(eventJson) })
        ),
        op({ summary: "A person's change timeline", response: list(eventModel) }),
      )
      .get(
        "/users/export.csv",
        async ({ request }) => (
          await requireApiToken(ctx, request), csvDownload(await exportCsv(ctx, "user"), "users")
        ),
        op({ summary: "Export every person as CSV (streamed)", response: z.string(), responseType: "text/csv" }),
      )
      .post(
        "/users/import",
        ({ request, query }) => importFromBody("user", request, query),
        op({
          summary: "Import people from CSV (text/csv); dry_run=true previews; all or nothing",
          bodyType: "text/csv",
          body: z.string(),
          query: importQuery,
          response: importReportModel,
        }),
      )
      // Organizations
      .get(
        "/organizations/export.csv",
        async ({ request }) => (
          await requireApiToken(ctx, request), csvDownload(await exportCsv(ctx, "organization"), "organizations")
        ),
        op({ summary: "Export every organization as CSV (streamed)", response: z.string(), responseType: "text/csv" }),
      )
      .post(
        "/organizations/import",
        ({ request, query }) => importFromBody("organization", request, query),
        op({
          summary: "Import organizations from CSV (text/csv); dry_run=true previews; all or nothing",
          bodyType: "text/csv",
          body: z.string(),
          query: importQuery,
          response: importReportModel,
        }),
      )
      .get(
        "/organizations",
        async ({ request, query }) => (
          await requireApiToken(ctx, request), json(await listOrganizations(db, parseQuery(organizationsQuery, query)))
        ),
        op({ summary: "List organizations", query: organizationsQuery, response: page(organizationModel) }),
      )
      .post(
        "/organizations",
        async ({ request, body }) =>
          json(await createOrganization(db, events, body, await apiActor(ctx, request)), 201),
        op({
          summary: "Create an organization",
          body: organizationInputModel,
          response: organizationModel,
          status: 201,
        }),
      )
      .get(
        "/organizations/:id",
        async ({ request, params }) => (
          await requireApiToken(ctx, request), json(await getOrganization(db, pathId(params.id, "organization")))
        ),
        op({ summary: "Read an organization with its members", response: organizationModel }),
      )
      .patch(
        "/organizations/:id",
        async ({ request, params, body }) =>
          json(
            await updateOrganization(db, events, pathId(params.id, "organization"), body, await apiActor(ctx, request)),
          ),
        op({
          summary: "Change some fields of an organization",
          body: organizationInputModel,
          response: organizationModel,
        }),
      )
      .put(
        "/organizations/:id",
        async ({ request, params, body }) =>
          json(
            await replaceOrganization(
              db,
              events,
              pathId(params.id, "organization"),
              body,
              await apiActor(ctx, request),
            ),
          ),
        op({
          summary: "Replace an organization: fields left out are cleared to their defaults (name required)",
          body: organizationInputModel,
          response: organizationModel,
        }),
      )
      .delete(
        "/organizations/:id",
        async ({ request, params, query }) => {
          await deleteOrganization(db, events, pathId(params.id, "organization"), await apiActor(ctx, request), {
            reassignTo: parseQuery(reassignQuery, query).reassign_to,
          });
          return noContent();
        },
        op({
          summary: "Delete an organization (a conflict with tickets unless reassign_to is given)",
          query: reassignQuery,
          response: null,
        }),
      )
      .get(
        "/organizations/:id/provenance",
        async ({ request, params }) => (
          await requireApiToken(ctx, request),
          json(provenanceJson(await getOrganizationProvenance(db, pathId(params.id, "organization"))))
        ),
        op({ summary: "Which source last wrote each field of an organization, and when", response: provenanceModel }),
      )
      // Groups
      .get(
        "/groups",
        async ({ request }) => (await requireApiToken(ctx, request), json({ data: await listGroups(db) })),
        op({ summary: "List groups", response: list(groupModel) }),
      )
      .post(
        "/groups",
        async ({ request, body }) => json(await createGroup(db, events, body, await apiActor(ctx, request)), 201),
        op({ summary: "Create a group", body: groupInputModel, response: groupModel, status: 201 }),
      )
      .get(
        "/groups/:id",
        async ({ request, params }) => (
          await requireApiToken(ctx, request),
          json(await groupJson(db, await getGroupRow(db, pathId(params.id, "group"))))
        ),
        op({ summary: "Read a group", response: groupModel }),
      )
      .patch(
        "/groups/:id",
        async ({ request, params, body }) =>
          json(await updateGroup(db, events, pathId(params.id, "group"), body, await apiActor(ctx, request))),
        op({ summary: "Change some fields of a group", body: groupInputModel, response: groupModel }),
      )
      .put(
        "/groups/:id",
        async ({ request, params, body }) =>
          json(await updateGroup(db, events, pathId(params.id, "group"), body, await apiActor(ctx, request))),
        op({ summary: "Change a group", body: groupInputModel, response: groupModel }),
      )
      .delete(
        "/groups/:id",
        async ({ request, params }) => (
          await deleteGroup(db, events, pathId(params.id, "group"), await apiActor(ctx, request)), noContent()
        ),
        op({ summary: "Delete a group (a conflict while tickets belong to it)", response: null }),
      )
      // Tickets and articles
      .get(
        "/tickets",
        async ({ request, query }) => (
          await requireApiToken(ctx, request), json(await listTickets(db, parseQuery(ticketsQuery, query)))
        ),
        op({ summary: "List tickets, newest first", query: ticketsQuery, response: page(ticketModel) }),
      )
      .post(
        "/tickets",
        async ({ request, body }) => {
          const { ticket, article } = await createTicket(db, events, body, await apiActor(ctx, request));
          return json({ ...ticket, article }, 201);
        },
        op({
          summary: "Create a ticket, optionally with its first article",
          body: newTicketInput,
          response: newTicketModel,
          status: 201,
        }),
      )
      .get(
        "/tickets/:id",
        async ({ request, params }) => (
          await requireApiToken(ctx, request), json(await getTicket(db, pathId(params.id, "ticket")))
        ),
        op({ summary: "Read a ticket", response: ticketModel }),
      )
      .patch(
        "/tickets/:id",
        async ({ request, params, body }) =>
          json(await updateTicket(db, events, pathId(params.id, "ticket"), body, await apiActor(ctx, request))),
        op({ summary: "Change some fields of a ticket", body: ticketUpdateInput, response: ticketModel }),
      )
      .put(
        "/tickets/:id",
        async ({ request, params, body }) =>
          json(await updateTicket(db, events, pathId(params.id, "ticket"), body, await apiActor(ctx, request))),
        op({ summary: "Change a ticket", body: ticketUpdateInput, response: ticketModel }),
      )
      .delete(
        "/tickets/:id",
        async ({ request, params }) => (
          await deleteTicket(db, events, pathId(params.id, "ticket"), await apiActor(ctx, request)), noContent()
        ),
        op({ summary: "Delete a ticket", response: null }),
      )
      .get(
        "/tickets/:id/articles",
        async ({ request, params }) => (
          await requireApiToken(ctx, request), json({ data: await listArticles(db, pathId(params.id, "ticket")) })
        ),
        op({ summary: "A ticket's articles", response: list(articleModel) }),
      )
      .post(
        "/articles",
        async ({ request, body }) => json(await createArticle(db, events, body, await apiActor(ctx, request)), 201),
        op({
          summary: "Add an article (with base64 attachments) to a ticket",
          body: newArticleInput,
          response: articleModel,
          status: 201,
        }),
      )
      .get(
        "/articles/:id",
        async ({ request, params }) => (
          await requireApiToken(ctx, request), json(await getArticle(db, pathId(params.id, "article")))
        ),
        op({ summary: "Read an article", response: articleModel }),
      )
      .get(
        "/attachments/:id",
        async ({ request, params }) => {
          await requireApiToken(ctx, request);
          return attachmentResponse(await getAttachment(db, pathId(params.id, "attachment")));
        },
        op({ summary: "Download an attachment", response: z.string(), responseType: "application/octet-stream" }),
      )
      // Custom fields
      .get(
        "/custom_fields",
        async ({ request, query }) => {
          await requireApiToken(ctx, request);
          return json({
            data: (await listCustomFields(db, parseQuery(customFieldsQuery, query).object_type)).map(fieldJson),
          });
        },
        op({ summary: "List custom fields", query: customFieldsQuery, response: list(customFieldModel) }),
      )
      .post(
        "/custom_fields",
        async ({ request, body }) =>
          json(fieldJson(await createCustomField(db, events, body, await apiActor(ctx, request))), 201),
        op({ summary: "Define a custom field", body: fieldDefinition, response: customFieldModel, status: 201 }),
      )
      .get(
        "/custom_fields/:id",
        async ({ request, params }) => (
          await requireApiToken(ctx, request),
          json(fieldJson(await getCustomField(db, pathId(params.id, "custom field"))))
        ),
        op({ summary: "Read a custom field", response: customFieldModel }),
      )
      .patch(
        "/custom_fields/:id",
        async ({ request, params, body }) =>
          json(
            fieldJson(
              await updateCustomField(
                db,
                events,
                pathId(params.id, "custom field"),
                body,
                await apiActor(ctx, request),
              ),
            ),
          ),
        op({ summary: "Change a custom field", body: fieldUpdate, response: customFieldModel }),
      )
      .delete(
        "/custom_fields/:id",
        async ({ request, params }) => (
          await deleteCustomField(db, events, pathId(params.id, "custom field"), await apiActor(ctx, request)),
          noContent()
        ),
        op({ summary: "Delete a custom field", response: null }),
      )
      // The change feed: a cursor, and an optional wait (long poll) that returns as soon as an event is recorded.
      .get(
        "/events",
        async ({ request, query }) => {
          await requireApiToken(ctx, request);
          const q = parseQuery(eventsQuery, query);
          // The feed's cursor is an event id (consumers keep it to resume); `after` is its earlier name.
          const after = q.cursor ?? q.after ?? 0;
          const limit = Math.min(q.limit ?? 100, 1000);
          const wait = Math.min(q.wait ?? 0, 60);
          const filter = { objectType: q.object_type, objectId: q.object_id };
          const page = await events.poll(after, limit, filter, wait * 1000, request.signal);
          return json({ data: page.map(eventJson), next_cursor: page.at(-1)?.id ?? after });
        },
        op({
          summary: "The change feed after a cursor; wait=<seconds> long-polls for the next change",
          query: eventsQuery,
          response: z.strictObject({ data: z.array(eventModel), next_cursor: z.number().int() }),
        }),
      )
  );
}

/**
 * 200 when the import was committed or was a clean preview; 422 with the
 * per-row report otherwise (and the error shape).
 */
function importResponse(report: ImportReport): Response {
  if (!report.errors.length) return json(report);
  const message = `${report.errors.length} error(s) in the file; nothing was imported`;
  return json({ ...report, ...errorBody("validation_failed", message, report.errors) }, 422);
}
