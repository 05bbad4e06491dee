import { Elysia } from "elysia";
import { z } from "zod";
import { createSync, deleteSync, getSync, listSyncs, syncInputSchema, updateSync } from "./config";
import { listSyncLog, logFilterSchema } from "./logs";
import { list, loose, op } from "../http/api/operation";
import type { CrmSyncService } from "./service";
import { requireApiToken } from "../http/auth";
import { selfTargetCheck } from "../http/addresses";
import type { AppContext } from "../http/context";
import { json } from "../http/responses";
import { validate } from "../errors";
import { noContent, pathId } from "../http/params";

const obj = (body: unknown) =>
  body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {};

/** The preview's person: a user id (number or digits), else the sample person; anything else is refused before use. */
const previewUserId = (value: unknown): number | undefined =>
  value === undefined || value === null || value === ""
    ? undefined
    : validate(
        z.object({
          user_id: z.union([
            z.number().int().positive(),
            z
              .string()
              .regex(/^\d{1,15}$/)
              .transform(Number),
          ]),
        }),
        { user_id: value },
      ).user_id;

const syncModel = loose({ id: z.number().int(), name: z.string(), enabled: z.boolean(), state: loose() });
/** A preview: the person, and each call as it would be sent. */
const previewModel = loose();
const previewInput = loose({ user_id: z.union([z.number().int().positive(), z.string()]).optional() });
/** The sync's log (entry shape shared with the delivery engine's HTTP log, described loosely here). */
const logModel = z.strictObject({ data: z.array(loose()), next_cursor: z.string().nullable() });

/** CRM syncs through the REST API: everything the CRM Sync pages do. */
export function crmSyncApi(ctx: AppContext, crm: CrmSyncService) {
  const deps = { db: ctx.db, secrets: ctx.secrets, delivery: ctx.delivery, selfTarget: selfTargetCheck(ctx) };
  const id = (v: string) => pathId(v, "CRM sync");
  return new Elysia({ prefix: "/api/v1/crm_syncs" })
    .get(
      "",
      async ({ request }) => (
        await requireApiToken(ctx, request),
        json({ data: await Promise.all((await listSyncs(ctx.db)).map((s) => crm.syncDetailJson(s))) })
      ),
      op({ summary: "List CRM syncs with their state", response: list(syncModel) }),
    )
    .post(
      "",
      async ({ request, body }) => (
        await requireApiToken(ctx, request), json(await crm.syncDetailJson(await createSync(deps, body)), 201)
      ),
      op({ summary: "Create a CRM sync", body: syncInputSchema, response: syncModel, status: 201 }),
    )
    .post(
      "/preview",
      async ({ request, body }) => {
        await requireApiToken(ctx, request);
        const { user_id, ...changes } = obj(body);
        return json(await crm.previewFor(null, changes, previewUserId(user_id)));
      },
      op({
        summary: "Preview the calls an unsaved sync would send for a person",
        body: previewInput,
        response: previewModel,
      }),
    )
    .get(
      "/:id",
      async ({ request, params }) => (
        await requireApiToken(ctx, request), json(await crm.syncDetailJson(await getSync(ctx.db, id(params.id))))
      ),
      op({ summary: "Read a CRM sync", response: syncModel }),
    )
    .patch(
      "/:id",
      async ({ request, params, body }) => (
        await requireApiToken(ctx, request), json(await crm.syncDetailJson(await updateSync(deps, id(params.id), body)))
      ),
      op({ summary: "Change some settings of a CRM sync", body: syncInputSchema.partial(), response: syncModel }),
    )
    .put(
      "/:id",
      async ({ request, params, body }) => (
        await requireApiToken(ctx, request), json(await crm.syncDetailJson(await updateSync(deps, id(params.id), body)))
      ),
      op({ summary: "Change a CRM sync", body: syncInputSchema.partial(), response: syncModel }),
    )
    .delete(
      "/:id",
      async ({ request, params }) => {
        await requireApiToken(ctx, request);
        await deleteSync(deps, id(params.id));
        return noContent();
      },
      op({ summary: "Delete a CRM sync", response: null }),
    )
    .post(
      "/:id/preview",
      async ({ request, params, body }) => {
        await requireApiToken(ctx, request);
        const { user_id, ...changes } = obj(body);
        return json(await crm.previewFor(id(params.id), changes, previewUserId(user_id)));
      },
      op({
        summary: "Preview the calls a sync (with unsaved changes) would send for a person",
        body: previewInput,
        response: previewModel,
      }),
    )
    .get(
      "/:id/logs",
      async ({ request, params, query }) => (
        await requireApiToken(ctx, request),
        await getSync(ctx.db, id(params.id)),
        json(await listSyncLog(ctx.db, ctx.delivery, id(params.id), query))
      ),
      op({
        summary: "A sync's log: calls sent and calls skipped, newest first",
        query: logFilterSchema,
        response: logModel,
      }),
    )
    .post(
      "/:id/logs/:jobId/retry",
      async ({ request, params }) => (
        await requireApiToken(ctx, request), json(await crm.retryCall(id(params.id), pathId(params.jobId, "call")), 202)
      ),
      op({
        summary: "Send a failed call again",
        response: z.strictObject({ job_id: z.number().int(), delivery_id: z.string() }),
        status: 202,
      }),
    )
    .post(
      "/:id/sync_all",
      async ({ request, params }) => {
        await requireApiToken(ctx, request);
        const counts = await crm.planner.syncAll(id(params.id));
        return json({ ...counts, state: (await crm.syncDetailJson(await getSync(ctx.db, id(params.id)))).state }, 202);
      },
      op({
        summary: "Plan a sync of everyone the sync's filter selects",
        response: loose({ state: loose() }),
        status: 202,
      }),
    )
    .get(
      "/:id/users/:userId",
      async ({ request, params, query }) => (
        await requireApiToken(ctx, request),
        json(await crm.userHistory(id(params.id), pathId(params.userId, "user"), query))
      ),
      op({
        summary: "A person's link and log in this sync",
        query: logFilterSchema.omit({ user_id: true }),
        response: loose(),
      }),
    )
    .post(
      "/:id/users/:userId/resync",
      async ({ request, params }) => {
        await requireApiToken(ctx, request);
        return json({ planned: await crm.planner.resync(id(params.id), pathId(params.userId, "user")) }, 202);
      },
      op({
        summary: "Plan the calls that bring this person up to date",
        response: z.strictObject({ planned: z.unknown() }),
        status: 202,
      }),
    );
}
