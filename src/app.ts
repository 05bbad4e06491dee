import { storageFailureOf } from "./db/health";
import { Elysia } from "elysia";
import type { Features } from "./features";
import { ZodError, z } from "zod";
import { AppError, conflict, malformedBody, unsupportedMediaType, ValidationError, zodIssues } from "./errors";
import { errorPage } from "./http/admin/error-page";
import { adminPages } from "./http/admin/pages";
import { customFieldPages } from "./records/custom-fields-admin";
import { groupPages } from "./records/groups-admin";
import { organizationPages } from "./records/organizations-admin";
import { peoplePages } from "./records/people-admin";
import { csvImportPages } from "./records/csv-import-admin";
import { logPages } from "./http/admin/logs";
import { pickerRoutes, pickerSources } from "./http/admin/pickers";
import { ticketPages } from "./records/tickets-admin";
import { signInRoutes } from "./http/admin/sign-in";
import { openApiDocument } from "./http/api/openapi";
import { loose, op } from "./http/api/operation";
import { recordsApi } from "./records/api";
import { settingsApi } from "./http/api/settings-api";
import { assetRoutes } from "./http/assets";
import { checkCsrf, SignInRequired, signInRedirect } from "./http/auth";
import { IMPORT_PATH } from "./http/body-gate";
import { requestMeta, type AppContext } from "./http/context";
import { opsRoutes } from "./http/ops";
import { rawBodies } from "./http/raw-body";
import { errorResponse, jsonError, statusOf } from "./http/responses";

/** Programs (JSON) live under these prefixes; everything else is the admin UI (HTML). */
export const isApiPath = (path: string) => path.startsWith("/api/") || path.startsWith("/v1/");

/** Callbacks whose signature covers the raw body: it is kept for them (see raw-body.ts). */
const SIGNED_BODY_PREFIX = "/v1/callbacks/";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bodies must be valid UTF-8 (and JSON valid JSON): a replacement character never sneaks into the data. */
function decodeStrictly(bytes: ArrayBuffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw malformedBody("the request body is not valid UTF-8");
  }
}

/**
 * Deeper than any body we take; recursive code (validation, String(),
 * JSON.stringify) must never meet thousands of levels.
 */
const MAX_JSON_DEPTH = 64;

function nestingDepth(value: unknown): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length) {
    const [v, depth] = pending.pop()!;
    if (v === null || typeof v !== "object") continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_JSON_DEPTH) break;
    for (const child of Object.values(v)) pending.push([child, depth + 1]);
  }
  return deepest;
}

function parseJsonStrictly(bytes: ArrayBuffer, declared: boolean): unknown {
  const text = decodeStrictly(bytes);
  if (!text.trim()) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    if (!declared)
      throw unsupportedMediaType(
        "the request body has no Content-Type and is not JSON; send JSON with Content-Type: application/json",
      );
    throw malformedBody(`the request body is not valid JSON: ${(err as Error).message}`);
  }
  if (nestingDepth(parsed) > MAX_JSON_DEPTH)
    throw malformedBody(`the request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  return parsed;
}

/**
 * On PostgreSQL two transactions may both pass a uniqueness check (an email not yet taken) and the
 * second insert is refused by the unique index (SQLSTATE 23505): the same conflict the check names,
 * its field the last word of the index name (users_email_unique → email).
 */
function uniqueViolationOf(error: unknown): AppError | null {
  const pg = [error, (error as { cause?: unknown } | null)?.cause].find(
    (e): e is { code: string; constraint_name?: string } =>
      typeof e === "object" && e !== null && (e as { code?: unknown }).code === "23505",
  );
  if (!pg) return null;
  const field = /([a-z]+)_(?:unique|key)$/.exec(pg.constraint_name ?? "")?.[1] ?? "value";
  return conflict(`a record with this ${field} already exists`, [{ field, message: "already taken" }]);
}

/** The caller's fault, as a typed error: ours, one Elysia wrapped (a parser's), a zod error, or Elysia's own. */
function domainErrorOf(error: unknown, code: unknown, noRoute: string): AppError | null {
  if (error instanceof AppError) return error;
  if (error instanceof Error && error.cause instanceof AppError) return error.cause;
  // A schema a route applied with parse() instead of validate(): still the caller's input at fault.
  if (error instanceof ZodError) return new ValidationError(zodIssues(error));
  const unique = uniqueViolationOf(error);
  if (unique) return unique;
  if (code === "PARSE") return malformedBody("the request body could not be parsed; send valid JSON");
  if (code === "NOT_FOUND") return new AppError("not_found", "not_found", noRoute);
  if (code === "VALIDATION") return new AppError("invalid", "validation_failed", "the request is invalid");
  return null;
}

/** Builds the Elysia app: route groups, CSRF on every state-changing admin request, one error mapper. */
export function createApp(ctx: AppContext, features: Features) {
  const pickers = pickerSources(ctx, features.destinations);
  const app = new Elysia()
    .onParse({ as: "global" }, async ({ request, contentType }) => {
      // Media types are case-insensitive; a program that sends no Content-Type to the API (Segment
      // libraries, curl -d) sends JSON, so its body is read as JSON when it is JSON.
      const type = contentType?.toLowerCase() ?? "";
      const path = new URL(request.url).pathname;
      const json = type ? type.startsWith("application/json") : isApiPath(path);
      if (!json && !type.startsWith("text/csv")) return;
      // CSV imports are streamed to disk by their route, after it has authenticated the caller.
      if (IMPORT_PATH.test(path)) return;
      const bytes = await request.arrayBuffer();
      const meta = requestMeta.get(request);
      if (meta) meta.bodyBytes = bytes.byteLength;
      if (json && path.startsWith(SIGNED_BODY_PREFIX)) rawBodies.set(request, decodeStrictly(bytes));
      return json ? parseJsonStrictly(bytes, type !== "") : decodeStrictly(bytes);
    })
    .onBeforeHandle({ as: "global" }, async ({ request, route, body }) => {
      const meta = requestMeta.get(request);
      if (meta) meta.route = route;
      if (isApiPath(new URL(request.url).pathname)) return;
      await checkCsrf(ctx, request, body);
      // Admin forms are fields by name: a bare string, array or null (text/plain, JSON) is no form.
      if (body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body))) {
        throw unsupportedMediaType("send the form as application/x-www-form-urlencoded or multipart/form-data");
      }
    })
    .onError({ as: "global" }, ({ code, error, request, route }) => {
      const meta = requestMeta.get(request);
      if (meta && route) meta.route = route;
      const path = new URL(request.url).pathname;
      if (error instanceof SignInRequired) return signInRedirect(request, error);
      const appError = domainErrorOf(error, code, `no route for ${request.method} ${path}`);
      if (appError)
        return isApiPath(path) ? errorResponse(appError) : errorPage(statusOf(appError.kind), appError.message);
      let [status, errCode, message] = [500, "internal_error", "something went wrong; the error is in the server log"];
      if (ctx.health.recordFailure(error)) {
        [status, errCode, message] = [
          503,
          "storage_unavailable",
          "the database cannot be written right now (disk full or failing); try again later",
        ];
        ctx.log.error("database write failed", {
          request_id: meta?.id,
          code: storageFailureOf(error)?.code,
          error: (error as Error).message,
        });
      } else {
        ctx.log.error("unhandled error", {
          request_id: meta?.id,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
      }
      return isApiPath(path) ? jsonError(status, errCode, message) : errorPage(status, message);
    })
    .use(assetRoutes())
    .use(opsRoutes(ctx))
    .use(settingsApi(ctx))
    .use(recordsApi(ctx))
    .use(signInRoutes(ctx))
    .use(adminPages(ctx))
    .use(csvImportPages(ctx))
    .use(pickerRoutes(ctx, pickers))
    .use(peoplePages(ctx, features.enrichment.clearbit))
    .use(organizationPages(ctx))
    .use(ticketPages(ctx, pickers))
    .use(groupPages(ctx, pickers))
    .use(customFieldPages(ctx))
    .use(logPages(ctx, pickers));
  for (const feature of features.all) for (const routes of feature.routes ?? []) app.use(routes);
  // Built once, from the finished route table.
  let openapi: string | undefined;
  return app.get(
    "/api/v1/openapi.json",
    () =>
      new Response((openapi ??= JSON.stringify(openApiDocument(app.routes, ctx.config.publicUrl))), {
        headers: { "Content-Type": "application/json; charset=utf-8" },
      }),
    op({ summary: "This document", response: loose({ openapi: z.literal("3.1.0") }), security: "open" }),
  );
}
