import { Elysia } from "elysia";
import { createCustomField, deleteCustomField, getCustomField, listCustomFields, updateCustomField, type CustomField } from "../../domain/custom-fields";
import { createGroup, deleteGroup, getGroupRow, groupJson, listGroups, updateGroup } from "../../domain/groups";
import { createOrganization, deleteOrganization, getOrganization, getOrganizationProvenance, listOrganizations, replaceOrganization, updateOrganization } from "../../domain/organizations";
import { createArticle, createTicket, deleteTicket, getArticle, getAttachment, getTicket, listArticles, listTickets, updateTicket } from "../../domain/tickets";
import { createUser, deleteUser, getUser, getUserProvenance, listUsers, replaceUser, updateUser, upsertUserByEmail } from "../../domain/users";
import { exportCsv, importCsv, type ImportReport } from "../../csv/records-csv";
import { readCsvFile, spoolUpload, uploadsDir } from "../../csv/upload";
import { badRequest, errorBody } from "../../errors";
import type { ChangeEvent } from "../../events/feed";
import { requireApiToken } from "../auth";
import type { AppContext } from "../context";
import { attachmentResponse, csvDownload, json } from "../responses";
import { apiActor, noContent, optionalId, pathId } from "../params";

const fieldJson = (f: CustomField) => ({ id: f.id, object_type: f.objectType, name: f.name, label: f.label, type: f.type, options: f.options, required: f.required, position: f.position, created_at: f.createdAt.toISOString(), updated_at: f.updatedAt.toISOString() });
export const eventJson = (e: ChangeEvent) => ({ id: e.id, type: e.type, object_type: e.objectType, object_id: e.objectId, changes: e.changes, actor_id: e.actorId, source: e.source, created_at: e.createdAt.toISOString() });
const provenanceJson = (p: Record<string, { source: string; at: number }>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, { source: v.source, at: new Date(v.at).toISOString() }]));

/** REST for people, organizations, groups, tickets, articles, attachments, custom fields and the event feed. */
export function recordsApi(ctx: AppContext) {
  const { db, events } = ctx;
  const uploads = uploadsDir(ctx.config.dataDir);
  /** The caller is authenticated before the body is read; the body goes to disk, not memory. */
  const importFromBody = async (kind: "user" | "organization", request: Request, query: Record<string, string | undefined>) => {
    const actor = { ...apiActor(ctx, request), source: "import" as const };
    if (!/^text\/csv\b/i.test(request.headers.get("content-type") ?? "")) throw badRequest("send the CSV file as the body with Content-Type: text/csv");
    const upload = await spoolUpload(uploads, request.body);
    try {
      const report = importCsv(db, events, kind, readCsvFile(upload.path), actor, { dryRun: query.dry_run === "true" });
      return importResponse(report);
    } finally {
      upload.remove();
    }
  };
  return new Elysia({ prefix: "/api/v1" })
    // People
    .get("/users", ({ request, query }) => (requireApiToken(ctx, request), json(listUsers(ctx, query))))
    .post("/users", ({ request, body }) => json(createUser(ctx, body, apiActor(ctx, request)), 201))
    .get("/users/:id", ({ request, params }) => (requireApiToken(ctx, request), json(getUser(ctx, pathId(params.id, "user")))))
    .patch("/users/:id", ({ request, params, body }) => json(updateUser(ctx, pathId(params.id, "user"), body, apiActor(ctx, request))))
    .put("/users/:id", ({ request, params, body }) => json(replaceUser(ctx, pathId(params.id, "user"), body, apiActor(ctx, request))))
    .delete("/users/:id", ({ request, params, query }) => {
      deleteUser(db, events, pathId(params.id, "user"), apiActor(ctx, request), { reassignTo: optionalId(query.reassign_to) });
      return noContent();
    })
    .put("/users/by-email/:email", ({ request, params, body }) => {
      const { user, created } = upsertUserByEmail(ctx, decodeURIComponent(params.email), body ?? {}, apiActor(ctx, request));
      return json(user, created ? 201 : 200);
    })
    .get("/users/:id/provenance", ({ request, params }) => (requireApiToken(ctx, request), json(provenanceJson(getUserProvenance(db, pathId(params.id, "user"))))))
    .get("/users/:id/events", ({ request, params }) => (requireApiToken(ctx, request), json({ data: events.history("user", pathId(params.id, "user")).map(eventJson) })))
    .get("/users/export.csv", ({ request }) => (requireApiToken(ctx, request), csvDownload(exportCsv(ctx, "user"), "users")))
    .post("/users/import", ({ request, query }) => importFromBody("user", request, query))
    // Organizations
    .get("/organizations/export.csv", ({ request }) => (requireApiToken(ctx, request), csvDownload(exportCsv(ctx, "organization"), "organizations")))
    .post("/organizations/import", ({ request, query }) => importFromBody("organization", request, query))
    .get("/organizations", ({ request, query }) => (requireApiToken(ctx, request), json(listOrganizations(db, query))))
    .post("/organizations", ({ request, body }) => json(createOrganization(db, events, body, apiActor(ctx, request)), 201))
    .get("/organizations/:id", ({ request, params }) => (requireApiToken(ctx, request), json(getOrganization(db, pathId(params.id, "organization")))))
    .patch("/organizations/:id", ({ request, params, body }) => json(updateOrganization(db, events, pathId(params.id, "organization"), body, apiActor(ctx, request))))
    .put("/organizations/:id", ({ request, params, body }) => json(replaceOrganization(db, events, pathId(params.id, "organization"), body, apiActor(ctx, request))))
    .delete("/organizations/:id", ({ request, params, query }) => {
      deleteOrganization(db, events, pathId(params.id, "organization"), apiActor(ctx, request), { reassignTo: optionalId(query.reassign_to) });
      return noContent();
    })
    .get("/organizations/:id/provenance", ({ request, params }) => (requireApiToken(ctx, request), json(provenanceJson(getOrganizationProvenance(db, pathId(params.id, "organization"))))))
    // Groups
    .get("/groups", ({ request }) => (requireApiToken(ctx, request), json({ data: listGroups(db) })))
    .post("/groups", ({ request, body }) => json(createGroup(db, events, body, apiActor(ctx, request)), 201))
    .get("/groups/:id", ({ request, params }) => (requireApiToken(ctx, request), json(groupJson(db, getGroupRow(db, pathId(params.id, "group"))))))
    .patch("/groups/:id", ({ request, params, body }) => json(updateGroup(db, events, pathId(params.id, "group"), body, apiActor(ctx, request))))
    .put("/groups/:id", ({ request, params, body }) => json(updateGroup(db, events, pathId(params.id, "group"), body, apiActor(ctx, request))))
    .delete("/groups/:id", ({ request, params }) => (deleteGroup(db, events, pathId(params.id, "group"), apiActor(ctx, request)), noContent()))
    // Tickets and articles
    .get("/tickets", ({ request, query }) => (requireApiToken(ctx, request), json(listTickets(db, query))))
    .post("/tickets", ({ request, body }) => {
      const { ticket, article } = createTicket(db, events, body, apiActor(ctx, request));
      return json({ ...ticket, article }, 201);
    })
    .get("/tickets/:id", ({ request, params }) => (requireApiToken(ctx, request), json(getTicket(db, pathId(params.id, "ticket")))))
    .patch("/tickets/:id", ({ request, params, body }) => json(updateTicket(db, events, pathId(params.id, "ticket"), body, apiActor(ctx, request))))
    .put("/tickets/:id", ({ request, params, body }) => json(updateTicket(db, events, pathId(params.id, "ticket"), body, apiActor(ctx, request))))
    .delete("/tickets/:id", ({ request, params }) => (deleteTicket(db, events, pathId(params.id, "ticket"), apiActor(ctx, request)), noContent()))
    .get("/tickets/:id/articles", ({ request, params }) => (requireApiToken(ctx, request), json({ data: listArticles(db, pathId(params.id, "ticket")) })))
    .post("/articles", ({ request, body }) => json(createArticle(db, events, body, apiActor(ctx, request)), 201))
    .get("/articles/:id", ({ request, params }) => (requireApiToken(ctx, request), json(getArticle(db, pathId(params.id, "article")))))
    .get("/attachments/:id", ({ request, params }) => {
      requireApiToken(ctx, request);
      return attachmentResponse(getAttachment(db, pathId(params.id, "attachment")));
    })
    // Custom fields
    .get("/custom_fields", ({ request, query }) => {
      requireApiToken(ctx, request);
      const type = query.object_type;
      if (type !== undefined && type !== "user" && type !== "organization") throw badRequest("object_type must be user or organization", [{ field: "object_type", message: "must be user or organization" }]);
      return json({ data: listCustomFields(db, type).map(fieldJson) });
    })
    .post("/custom_fields", ({ request, body }) => json(fieldJson(createCustomField(db, events, body, apiActor(ctx, request))), 201))
    .get("/custom_fields/:id", ({ request, params }) => (requireApiToken(ctx, request), json(fieldJson(getCustomField(db, pathId(params.id, "custom field"))))))
    .patch("/custom_fields/:id", ({ request, params, body }) => json(fieldJson(updateCustomField(db, events, pathId(params.id, "custom field"), body, apiActor(ctx, request)))))
    .delete("/custom_fields/:id", ({ request, params }) => (deleteCustomField(db, events, pathId(params.id, "custom field"), apiActor(ctx, request)), noContent()))
    // The change feed: a cursor, and an optional wait (long poll) that returns as soon as an event is recorded.
    .get("/events", async ({ request, query }) => {
      requireApiToken(ctx, request);
      // The feed's cursor is an event id (consumers keep it to resume); `after` is its earlier name.
      const after = optionalId(query.cursor ?? query.after) ?? 0;
      const limit = Math.min(optionalId(query.limit) ?? 100, 1000);
      const wait = Math.min(optionalId(query.wait) ?? 0, 60);
      const filter = { objectType: typeof query.object_type === "string" ? query.object_type : undefined, objectId: optionalId(query.object_id) };
      let page = events.read(after, limit, filter);
      if (!page.length && wait > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, wait * 1000);
          const unsubscribe = events.subscribe(() => done());
          function done() {
            clearTimeout(timer);
            unsubscribe();
            resolve();
          }
          request.signal.addEventListener("abort", done);
        });
        page = events.read(after, limit, filter);
      }
      return json({ data: page.map(eventJson), next_cursor: page.at(-1)?.id ?? after });
    });
}

/** 200 when the import was committed or was a clean preview; 422 with the per-row report otherwise (and the error shape). */
function importResponse(report: ImportReport): Response {
  if (!report.errors.length) return json(report);
  const message = `${report.errors.length} error(s) in the file; nothing was imported`;
  return json({ ...report, ...errorBody("validation_failed", message, report.errors) }, 422);
}
