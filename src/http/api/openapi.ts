import { VERSION } from "../../version";

/**
 * The OpenAPI 3.1 description of the REST API, built from the app's own route table so that no
 * route is ever missing from it; SUMMARIES adds a sentence per route.
 */
const SUMMARIES: Record<string, string> = {
  "GET /api/v1/users": "List people: search (q), filters, sort and cursor pagination",
  "POST /api/v1/users": "Create a person",
  "GET /api/v1/users/{id}": "Read a person",
  "PATCH /api/v1/users/{id}": "Change some fields of a person",
  "PUT /api/v1/users/{id}": "Replace a person: fields left out are cleared to their defaults (the login and roles are kept unless given)",
  "DELETE /api/v1/users/{id}": "Delete a person (409 with tickets unless reassign_to is given)",
  "PUT /api/v1/users/by-email/{email}": "Create or update the person with this email",
  "GET /api/v1/users/{id}/provenance": "Which source last wrote each field of a person, and when",
  "GET /api/v1/users/{id}/events": "A person's change timeline",
  "GET /api/v1/users/export.csv": "Export every person as CSV (streamed)",
  "POST /api/v1/users/import": "Import people from CSV (text/csv); dry_run=true previews; all or nothing",
  "GET /api/v1/organizations": "List organizations",
  "POST /api/v1/organizations": "Create an organization",
  "GET /api/v1/organizations/{id}": "Read an organization with its members",
  "PATCH /api/v1/organizations/{id}": "Change some fields of an organization",
  "PUT /api/v1/organizations/{id}": "Replace an organization: fields left out are cleared to their defaults (name required)",
  "DELETE /api/v1/organizations/{id}": "Delete an organization (409 with tickets unless reassign_to is given)",
  "GET /api/v1/events": "The change feed after a cursor; wait=<seconds> long-polls for the next change",
  "POST /api/v1/tickets": "Create a ticket, optionally with its first article",
  "POST /api/v1/articles": "Add an article (with base64 attachments) to a ticket",
  "GET /api/v1/attachments/{id}": "Download an attachment",
  "POST /v1/identify": "Segment identify: create or update a person from traits (write key as Basic-auth username)",
  "POST /v1/batch": "Segment batch: up to 500 KB of identify, group, track, page, screen and alias calls",
  "POST /v1/{type}": "Segment single call: identify, group, track, page, screen or alias",
  "GET /api/v1/openapi.json": "This document",
};

const ERRORS = {
  "400": { description: "Malformed body", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "401": { description: "Missing or unknown credentials", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "404": { description: "Not found", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "409": { description: "Conflict (duplicate, or still in use)", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "413": { description: "Body too large", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "422": { description: "Invalid fields; details names each", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
};

export function openApiDocument(routes: { method: string; path: string }[], serverUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (!/^\/(api\/)?v1\//.test(r.path) || r.method === "ALL") continue;
    const path = r.path.replace(/:(\w+)/g, "{$1}");
    const method = r.method.toLowerCase();
    const segment = path.split("/").filter(Boolean)[path.startsWith("/api/") ? 2 : 1] ?? "";
    const segmentTag = path.startsWith("/v1/") ? "segment" : segment.replace(/[{}]/g, "");
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    const open = path === "/api/v1/openapi.json";
    (paths[path] ??= {})[method] = {
      tags: [segmentTag],
      summary: SUMMARIES[`${r.method} ${path}`] ?? `${r.method} ${path}`,
      parameters: params,
      ...(open ? { security: [] } : path.startsWith("/v1/") ? { security: [{ writeKey: [] }] } : {}),
      ...(["post", "put", "patch"].includes(method) ? { requestBody: { content: { [path.endsWith("/import") ? "text/csv" : "application/json"]: { schema: { type: path.endsWith("/import") ? "string" : "object" } } } } } : {}),
      responses: { "200": { description: "OK" }, ...(open ? {} : ERRORS) },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Switchboard API", version: VERSION, description: "People, organizations, tickets, enrichment, webhooks and CRM sync. Errors: {\"error\":{\"code\",\"message\",\"details\"}}." },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An API token from Settings → API tokens" },
        writeKey: { type: "http", scheme: "basic", description: "A Segment write key as the username, empty password" },
      },
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: { error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" }, details: {} } } },
        },
      },
    },
  };
}
