import { Elysia } from "elysia";
import { z } from "zod";
import { httpLogEntryJson } from "../delivery";
import { getUserRow } from "../domain/users";
import { audienceInput, audienceJson } from "./audiences";
import { CALLBACK_PATH } from "./clearbit";
import { enrichmentTraits, type Enrichment } from ".";
import { settingsInput, settingsJson } from "./settings";
import { list, loose, op, parseQuery } from "../http/api/operation";
import { conflict, unauthorized, unsupportedMediaType } from "../errors";
import { requireApiToken } from "../http/auth";
import type { AppContext } from "../http/context";
import { rawBodies } from "../http/raw-body";
import { json } from "../http/responses";
import { noContent, pathId } from "../http/params";

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

const logQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).optional() });
const integrationModel = loose({ api_key: z.string().nullable(), api_key_set: z.boolean(), status: z.unknown() });
const progressModel = loose();
const audienceModel = loose({
  id: z.number().int(),
  name: z.string(),
  key: z.string(),
  match: z.enum(["all", "any"]),
  conditions: z.array(z.unknown()),
});

type Written = { request: Request; body: unknown };

/** Clearbit settings, status, log, backfill, per-user enrichment, provider callbacks and audiences over REST. */
export function enrichmentApi(ctx: AppContext, { clearbit, audiences }: Enrichment) {
  const integrationJson = async () => ({
    ...settingsJson(await clearbit.settings()),
    status: await clearbit.status(),
    results: await clearbit.resultMode(),
  });
  // PUT and PATCH share one handler each (Clearbit settings, an audience): both change what they are sent.
  const updateAudience = async ({ request, params, body }: Written & { params: { id: string } }) => {
    await requireApiToken(ctx, request);
    const x = await audiences.update(pathId(params.id, "audience"), body);
    return json(audienceJson(x, await audiences.memberCount(x.id)));
  };
  const saveSettings = async ({ request, body }: Written) => {
    await requireApiToken(ctx, request);
    await clearbit.save(body);
    return json(await integrationJson());
  };
  return new Elysia()
    .get(
      "/api/v1/integrations/clearbit",
      async ({ request }) => (await requireApiToken(ctx, request), json(await integrationJson())),
      op({ summary: "Clearbit settings and status", response: integrationModel }),
    )
    .put(
      "/api/v1/integrations/clearbit",
      saveSettings,
      op({ summary: "Save Clearbit settings", body: settingsInput, response: integrationModel }),
    )
    .patch(
      "/api/v1/integrations/clearbit",
      saveSettings,
      op({ summary: "Change some Clearbit settings", body: settingsInput, response: integrationModel }),
    )
    .get(
      "/api/v1/integrations/clearbit/log",
      async ({ request, query }) => {
        await requireApiToken(ctx, request);
        const limit = parseQuery(logQuery, query).limit ?? 50;
        return json({ data: (await ctx.delivery.listHttpLog({ facility: "clearbit", limit })).map(httpLogEntryJson) });
      },
      op({ summary: "Clearbit's HTTP log, newest first", query: logQuery, response: list(loose()) }),
    )
    .post(
      "/api/v1/integrations/clearbit/backfill",
      async ({ request }) => {
        await requireApiToken(ctx, request);
        if (!(await clearbit.active())) throw conflict("enable Clearbit and save an API key first");
        await clearbit.startBackfill((err) => ctx.log.error("clearbit backfill failed", { error: String(err) }));
        return json(await clearbit.backfillProgress(), 202);
      },
      op({ summary: "Start enriching everyone not enriched yet", response: progressModel, status: 202 }),
    )
    .get(
      "/api/v1/integrations/clearbit/backfill",
      async ({ request }) => (await requireApiToken(ctx, request), json(await clearbit.backfillProgress())),
      op({ summary: "The backfill's progress", response: progressModel }),
    )
    .post(
      "/api/v1/users/:id/enrich",
      async ({ request, params }) => {
        await requireApiToken(ctx, request);
        return json({ result: await clearbit.enrichNow(pathId(params.id, "user")) }, 202);
      },
      op({ summary: "Enrich a person now", response: z.strictObject({ result: z.string() }), status: 202 }),
    )
    .get(
      "/api/v1/users/:id/enrichment",
      async ({ request, params }) => {
        await requireApiToken(ctx, request);
        const user = await getUserRow(ctx.db, pathId(params.id, "user"));
        const stored = await clearbit.storedAnswer(ctx.db, user.id);
        const lookup = user.email ? await clearbit.lookup(ctx.db, user.email) : undefined;
        return json({
          provider: "clearbit",
          email: stored?.email ?? user.email,
          person: stored?.person ?? null,
          company: stored?.company ?? null,
          checked_at: iso(stored?.checkedAt),
          lookup: lookup
            ? {
                status: lookup.status,
                requested_at: iso(lookup.requestedAt),
                checked_at: iso(lookup.checkedAt),
                unknown_until: iso(lookup.unknownUntil),
                error: lookup.error,
              }
            : null,
          traits: await enrichmentTraits(ctx.db, user.id),
        });
      },
      op({
        summary: "A person's stored enrichment answer and lookup state",
        response: loose({ provider: z.literal("clearbit"), traits: z.record(z.string(), z.unknown()) }),
      }),
    )
    .post(
      CALLBACK_PATH,
      async ({ request }) => {
        const raw = rawBodies.get(request);
        if (raw === undefined) throw unsupportedMediaType("send the callback as application/json");
        const result = await clearbit.callback(raw, request.headers.get("x-request-signature"));
        if (!result.ok) throw unauthorized("the X-Request-Signature does not match the body");
        return json({ received: true, applied: result.applied ?? false });
      },
      op({
        summary: "Clearbit's signed callback (X-Request-Signature over the body)",
        body: z.unknown(),
        response: z.strictObject({ received: z.boolean(), applied: z.boolean() }),
        security: "open",
      }),
    )
    .get(
      "/api/v1/audiences",
      async ({ request }) => {
        await requireApiToken(ctx, request);
        return json({
          data: await Promise.all(
            (await audiences.list()).map(async (x) => audienceJson(x, await audiences.memberCount(x.id))),
          ),
        });
      },
      op({ summary: "List audiences with their member counts", response: list(audienceModel) }),
    )
    .post(
      "/api/v1/audiences",
      async ({ request, body }) => {
        await requireApiToken(ctx, request);
        const created = await audiences.create(body);
        return json(audienceJson(created, await audiences.memberCount(created.id)), 201);
      },
      op({ summary: "Create an audience", body: audienceInput, response: audienceModel, status: 201 }),
    )
    .get(
      "/api/v1/audiences/:id",
      async ({ request, params }) => {
        await requireApiToken(ctx, request);
        const x = await audiences.get(pathId(params.id, "audience"));
        return json(audienceJson(x, await audiences.memberCount(x.id)));
      },
      op({ summary: "Read an audience", response: audienceModel }),
    )
    .patch(
      "/api/v1/audiences/:id",
      updateAudience,
      op({ summary: "Change some fields of an audience", body: audienceInput.partial(), response: audienceModel }),
    )
    .put(
      "/api/v1/audiences/:id",
      updateAudience,
      op({ summary: "Change an audience", body: audienceInput.partial(), response: audienceModel }),
    )
    .delete(
      "/api/v1/audiences/:id",
      async ({ request, params }) => {
        await requireApiToken(ctx, request);
        await audiences.delete(pathId(params.id, "audience"));
        return noContent();
      },
      op({ summary: "Delete an audience", response: null }),
    );
}
