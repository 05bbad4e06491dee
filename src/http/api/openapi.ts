import { z } from "zod";
import { VERSION } from "../../version";
import { errorModel, operationOf, type Operation } from "./operation";

/**
 * The OpenAPI 3.1 description of the REST API, built from the app's own route table so that no
 * route is ever missing from it: each route's operation (op() in operation.ts) gives its summary,
 * query parameters, request body and answer, as JSON Schema generated from the zod models.
 */
const errorRef = { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };
const ERRORS = {
  "400": { description: "Malformed body", content: errorRef },
  "401": { description: "Missing or unknown credentials", content: errorRef },
  "404": { description: "Not found", content: errorRef },
  "409": { description: "Conflict (duplicate, or still in use)", content: errorRef },
  "413": { description: "Body too large", content: errorRef },
  "422": { description: "Invalid fields; details names each", content: errorRef },
};

/** A zod model as JSON Schema: requests as a client writes them, answers as the server sends them. */
function jsonSchema(model: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...schema } = z.toJSONSchema(model, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return schema;
}

function queryParameters(query: z.ZodObject | undefined) {
  if (!query) return [];
  const schema = jsonSchema(query, "input") as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => ({
    name,
    in: "query",
    required: schema.required?.includes(name) ?? false,
    schema: s,
  }));
}

function successResponse(o: Operation) {
  const status = String(o.status ?? (o.response === null ? 204 : 200));
  if (o.response === null) return { [status]: { description: "No content" } };
  return {
    [status]: {
      description: "OK",
      content: { [o.responseType ?? "application/json"]: { schema: jsonSchema(o.response, "output") } },
    },
  };
}

export function openApiDocument(routes: { method: string; path: string; hooks?: unknown }[], serverUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (!/^\/(api\/)?v1\//.test(r.path) || r.method === "ALL") continue;
    const path = r.path.replace(/:(\w+)/g, "{$1}");
    const o = operationOf(r.hooks) ?? { summary: `${r.method} ${path}`, response: z.unknown() };
    const segment = path.split("/").filter(Boolean)[path.startsWith("/api/") ? 2 : 1] ?? "";
    const tag = path.startsWith("/v1/") ? "segment" : segment.replace(/[{}]/g, "");
    const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const security = o.security ?? (path.startsWith("/v1/") ? "writeKey" : "token");
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      tags: [tag],
      summary: o.summary,
      parameters: [...pathParams, ...queryParameters(o.query)],
      ...(security === "open" ? { security: [] } : security === "writeKey" ? { security: [{ writeKey: [] }] } : {}),
      ...(o.body
        ? {
            requestBody: {
              required: o.bodyType === "text/csv",
              content: { [o.bodyType ?? "application/json"]: { schema: jsonSchema(o.body, "input") } },
            },
          }
        : {}),
      responses: { ...successResponse(o), ...(security === "open" && !o.body ? {} : ERRORS) },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Switchboard API",
      version: VERSION,
      description:
        "People, organizations, tickets, enrichment, webhooks and CRM sync. " +
        'Errors: {"error":{"code","message","details"}}.',
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An API token from Settings → API tokens" },
        writeKey: { type: "http", scheme: "basic", description: "A Segment write key as the username, empty password" },
      },
      schemas: { Error: jsonSchema(errorModel, "output") },
    },
  };
}
