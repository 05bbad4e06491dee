import { Elysia } from "elysia";
import { httpLogEntryJson } from "../delivery";
import { getUserRow } from "../domain/users";
import { audienceJson } from "./audiences";
import { CALLBACK_PATH } from "./clearbit";
import { enrichmentTraits, type Enrichment } from ".";
import { settingsJson } from "./settings";
import { AppError, unauthorized } from "../errors";
import { requireApiToken } from "../http/auth";
import type { AppContext } from "../http/context";
import { rawBodies } from "../http/raw-body";
import { json } from "../http/responses";
import { noContent, pathId } from "../http/params";

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** Clearbit settings, status, log, backfill, per-user enrichment, provider callbacks and audiences over REST. */
export function enrichmentApi(ctx: AppContext, { clearbit, audiences }: Enrichment) {
  const integrationJson = () => ({ ...settingsJson(clearbit.settings), status: clearbit.status(), results: clearbit.resultMode() });
  return new Elysia()
    .get("/api/v1/integrations/clearbit", ({ request }) => (requireApiToken(ctx, request), json(integrationJson())))
    .put("/api/v1/integrations/clearbit", async ({ request, body }) => {
      requireApiToken(ctx, request);
      await clearbit.save(body);
      return json(integrationJson());
    })
    .patch("/api/v1/integrations/clearbit", async ({ request, body }) => {
      requireApiToken(ctx, request);
      await clearbit.save(body);
      return json(integrationJson());
    })
    .get("/api/v1/integrations/clearbit/log", ({ request, query }) => {
      requireApiToken(ctx, request);
      const limit = Math.min(500, Math.max(1, Number(query.limit) || 50));
      return json({ data: ctx.delivery.listHttpLog({ facility: "clearbit", limit }).map(httpLogEntryJson) });
    })
    .post("/api/v1/integrations/clearbit/backfill", ({ request }) => {
      requireApiToken(ctx, request);
      if (!clearbit.active) throw new AppError(409, "conflict", "enable Clearbit and save an API key first");
      void clearbit.backfill().catch((err) => ctx.log.error("clearbit backfill failed", { error: String(err) }));
      return json(clearbit.backfillProgress(), 202);
    })
    .get("/api/v1/integrations/clearbit/backfill", ({ request }) => (requireApiToken(ctx, request), json(clearbit.backfillProgress())))
    .post("/api/v1/users/:id/enrich", ({ request, params }) => {
      requireApiToken(ctx, request);
      return json({ result: clearbit.enrichNow(pathId(params.id, "user")) }, 202);
    })
    .get("/api/v1/users/:id/enrichment", ({ request, params }) => {
      requireApiToken(ctx, request);
      const user = getUserRow(ctx.db, pathId(params.id, "user"));
      const stored = clearbit.storedAnswer(ctx.db, user.id);
      const lookup = user.email ? clearbit.lookup(ctx.db, user.email) : undefined;
      return json({
        provider: "clearbit",
        email: stored?.email ?? user.email,
        person: stored?.person ?? null,
        company: stored?.company ?? null,
        checked_at: iso(stored?.checkedAt),
        lookup: lookup ? { status: lookup.status, requested_at: iso(lookup.requestedAt), checked_at: iso(lookup.checkedAt), unknown_until: iso(lookup.unknownUntil), error: lookup.error } : null,
        traits: enrichmentTraits(ctx.db, user.id),
      });
    })
    .post(CALLBACK_PATH, async ({ request }) => {
      const raw = rawBodies.get(request);
      if (raw === undefined) throw new AppError(415, "unsupported_media_type", "send the callback as application/json");
      const result = await clearbit.callback(raw, request.headers.get("x-request-signature"));
      if (!result.ok) throw unauthorized("the X-Request-Signature does not match the body");
      return json({ received: true, applied: result.applied ?? false });
    })
    .get("/api/v1/audiences", ({ request }) => {
      requireApiToken(ctx, request);
      return json({ data: audiences.list().map((x) => audienceJson(x, audiences.memberCount(x.id))) });
    })
    .post("/api/v1/audiences", ({ request, body }) => {
      requireApiToken(ctx, request);
      const created = audiences.create(body);
      return json(audienceJson(created, audiences.memberCount(created.id)), 201);
    })
    .get("/api/v1/audiences/:id", ({ request, params }) => {
      requireApiToken(ctx, request);
      const x = audiences.get(pathId(params.id, "audience"));
      return json(audienceJson(x, audiences.memberCount(x.id)));
    })
    .patch("/api/v1/audiences/:id", ({ request, params, body }) => {
      requireApiToken(ctx, request);
      const x = audiences.update(pathId(params.id, "audience"), body);
      return json(audienceJson(x, audiences.memberCount(x.id)));
    })
    .put("/api/v1/audiences/:id", ({ request, params, body }) => {
      requireApiToken(ctx, request);
      const x = audiences.update(pathId(params.id, "audience"), body);
      return json(audienceJson(x, audiences.memberCount(x.id)));
    })
    .delete("/api/v1/audiences/:id", ({ request, params }) => {
      requireApiToken(ctx, request);
      audiences.delete(pathId(params.id, "audience"));
      return noContent();
    });
}
