import { Elysia } from "elysia";
import { z } from "zod";
import { createSync, deleteSync, getSync, listSyncs, updateSync } from "./config";
import { listSyncLog } from "./logs";
import type { CrmSyncService } from "./service";
import { requireApiToken } from "../http/auth";
import { selfTargetCheck } from "../http/addresses";
import type { AppContext } from "../http/context";
import { json } from "../http/responses";
import { validate } from "../errors";
import { noContent, pathId } from "../http/params";

const obj = (body: unknown) => (body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {});

/** The preview's person: a user id (number or digits), else the sample person; anything else is refused before use. */
const previewUserId = (value: unknown): number | undefined =>
  value === undefined || value === null || value === "" ? undefined : validate(z.object({ user_id: z.union([z.number().int().positive(), z.string().regex(/^\d{1,15}$/).transform(Number)]) }), { user_id: value }).user_id;

/** CRM syncs through the REST API: everything the CRM Sync pages do. */
export function crmSyncApi(ctx: AppContext, crm: CrmSyncService) {
  const deps = { db: ctx.db, secrets: ctx.secrets, delivery: ctx.delivery, selfTarget: selfTargetCheck(ctx) };
  const id = (v: string) => pathId(v, "CRM sync");
  return new Elysia({ prefix: "/api/v1/crm_syncs" })
    .get("", ({ request }) => (requireApiToken(ctx, request), json({ data: listSyncs(ctx.db).map((s) => crm.syncDetailJson(s)) })))
    .post("", async ({ request, body }) => (requireApiToken(ctx, request), json(crm.syncDetailJson(await createSync(deps, body)), 201)))
    .post("/preview", ({ request, body }) => {
      requireApiToken(ctx, request);
      const { user_id, ...changes } = obj(body);
      return json(crm.previewFor(null, changes, previewUserId(user_id)));
    })
    .get("/:id", ({ request, params }) => (requireApiToken(ctx, request), json(crm.syncDetailJson(getSync(ctx.db, id(params.id))))))
    .patch("/:id", async ({ request, params, body }) => (requireApiToken(ctx, request), json(crm.syncDetailJson(await updateSync(deps, id(params.id), body)))))
    .put("/:id", async ({ request, params, body }) => (requireApiToken(ctx, request), json(crm.syncDetailJson(await updateSync(deps, id(params.id), body)))))
    .delete("/:id", ({ request, params }) => {
      requireApiToken(ctx, request);
      deleteSync(deps, id(params.id));
      return noContent();
    })
    .post("/:id/preview", ({ request, params, body }) => {
      requireApiToken(ctx, request);
      const { user_id, ...changes } = obj(body);
      return json(crm.previewFor(id(params.id), changes, previewUserId(user_id)));
    })
    .get("/:id/logs", ({ request, params, query }) => (requireApiToken(ctx, request), getSync(ctx.db, id(params.id)), json(listSyncLog(ctx.db, ctx.delivery, id(params.id), query))))
    .post("/:id/logs/:jobId/retry", ({ request, params }) => (requireApiToken(ctx, request), json(crm.retryCall(id(params.id), pathId(params.jobId, "call")), 202)))
    .post("/:id/sync_all", async ({ request, params }) => {
      requireApiToken(ctx, request);
      const counts = await crm.planner.syncAll(id(params.id));
      return json({ ...counts, state: crm.syncDetailJson(getSync(ctx.db, id(params.id))).state }, 202);
    })
    .get("/:id/users/:userId", ({ request, params, query }) => (requireApiToken(ctx, request), json(crm.userHistory(id(params.id), pathId(params.userId, "user"), query))))
    .post("/:id/users/:userId/resync", ({ request, params }) => {
      requireApiToken(ctx, request);
      return json({ planned: crm.planner.resync(id(params.id), pathId(params.userId, "user")) }, 202);
    });
}
