import { Elysia } from "elysia";
import { z } from "zod";
import { beforeIdOf, idPageParams, pageOf } from "../domain/records";
import { httpLogEntryJson } from "../delivery/http-log";
import type { Job } from "../delivery/types";
import { validate } from "../errors";
import type { WebhookService, WebhookJobPayload } from ".";
import {
  createSchema as webhookCreateInput,
  previewCustomPayload,
  updateSchema as webhookUpdateInput,
  webhookJson,
} from "./endpoints";
import { AUTH_TYPES, WEBHOOK_METHODS } from "./schema";
import {
  createSchema as triggerCreateInput,
  previewSchema as triggerPreviewInput,
  updateSchema as triggerUpdateInput,
} from "./triggers";
import { previewTrigger } from "./trigger-preview";
import { isoTime, list, loose, op } from "../http/api/operation";
import { requireApiToken } from "../http/auth";
import type { AppContext } from "../http/context";
import { json } from "../http/responses";
import { noContent, pathId } from "../http/params";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const deliveryJson = (j: Job) => {
  const p = j.payload as WebhookJobPayload;
  return {
    id: j.id,
    delivery_id: j.deliveryId,
    status: j.status,
    event_type: p.event_type,
    event_id: p.event_id,
    trigger_id: p.trigger_id,
    trigger_name: p.trigger_name,
    test: !!p.test,
    attempts: j.attempts,
    max_attempts: j.maxAttempts,
    last_status: j.lastStatus,
    last_error: j.lastError,
    next_attempt_at: j.status === "pending" ? iso(j.runAt) : null,
    redelivery_of: j.redeliveryOf,
    created_at: iso(j.createdAt),
    finished_at: iso(j.finishedAt),
  };
};

const deliveryFilter = z.strictObject({
  status: z.enum(["pending", "running", "succeeded", "failed", "cancelled"]).optional(),
  ...idPageParams,
  limit: z.coerce.number().int().min(1).max(500).optional().default(50),
});
const sampleKind = z.enum(["ticket", "user", "organization"]).optional().default("ticket");
const previewInput = z.strictObject({ custom_payload: z.string().max(100_000), sample: sampleKind });
const rotateInput = z.strictObject({ grace_hours: z.number().min(0).max(720).optional() }).optional();
const testInput = z.strictObject({ sample: sampleKind }).optional();

const recoverQuery = z.strictObject({ since: z.iso.datetime({ offset: true }) });
const recoverInput = z.strictObject({ since: z.iso.datetime({ offset: true }) });
const recoveryQuery = z.strictObject({
  first_id: z.coerce.number().int().positive(),
  last_id: z.coerce.number().int().positive(),
});
const bulkRedeliverInput = z.strictObject({ ids: z.array(z.number().int().positive()).min(1).max(500) });
const recoveryModel = z.strictObject({
  total: z.number().int(),
  finished: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  done: z.boolean(),
});

const nullableText = z.string().nullable();
/** A webhook as the API answers it: secrets masked, with its delivery health. */
const webhookModel = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  url: z.string(),
  method: z.enum(WEBHOOK_METHODS),
  signature_token: nullableText,
  signing_secret: z.string(),
  previous_secret_expires_at: isoTime.nullable(),
  tls_verify: z.boolean(),
  timeout_seconds: z.number().int(),
  headers: z.record(z.string(), z.string()),
  secret_headers: z.record(z.string(), z.string()),
  allow_self: z.boolean(),
  auth_type: z.enum(AUTH_TYPES),
  auth_username: nullableText,
  auth_password: nullableText,
  active: z.boolean(),
  note: nullableText,
  custom_payload: nullableText,
  zammad_compat: z.boolean(),
  strict_order: z.boolean(),
  max_attempts: z.number().int(),
  retry_base_seconds: z.number().int(),
  created_at: isoTime,
  updated_at: isoTime,
  /** The destination's health (shape owned by the delivery engine). */
  health: loose(),
});
/** A delivery and its attempts: shapes shared with the delivery engine's HTTP log, described loosely here. */
const deliveryModel = loose({ id: z.number().int(), status: z.string() });
const triggerModel = loose({
  id: z.number().int(),
  name: z.string(),
  active: z.boolean(),
  events: z.array(z.string()),
});

const catalogueFieldModel = z.strictObject({
  path: z.string(),
  type: z.enum(["text", "number", "boolean", "time", "list", "named"]),
  choices: z.enum(["states", "priorities", "groups", "organizations", "roles", "boolean"]).nullable(),
  example: z.string(),
});
/** One event type of the catalogue: what it means, a payload as sent, its condition fields and payload tokens. */
const eventTypeModel = z.strictObject({
  type: z.string(),
  object: z.string(),
  description: z.string(),
  example: loose(),
  fields: z.array(catalogueFieldModel),
  tokens: z.array(z.string()),
});
const triggerPreviewModel = z.strictObject({
  considered: z.number().int(),
  matched: z.number().int(),
  examples: z.array(
    z.strictObject({
      event_id: z.number().int(),
      type: z.string(),
      object_type: z.string(),
      object_id: z.number().int(),
      created_at: isoTime,
    }),
  ),
});

/** Webhooks, their deliveries and triggers through the REST API: everything the admin pages do. */
export function webhooksApi(ctx: AppContext, service: WebhookService) {
  const { endpoints, triggers } = service;
  const actor = async (request: Request) => (await requireApiToken(ctx, request)).actorId;
  const withHealth = async (w: Parameters<typeof webhookJson>[0]) => ({
    ...webhookJson(w),
    health: await service.health(w.id),
  });
  return new Elysia({ prefix: "/api/v1" })
    .get(
      "/webhooks",
      async ({ request }) => (
        await actor(request), json({ data: await Promise.all((await endpoints.list()).map(withHealth)) })
      ),
      op({ summary: "List webhooks with their delivery health", response: list(webhookModel) }),
    )
    .post(
      "/webhooks",
      async ({ request, body }) => {
        const { row, signingSecret } = await endpoints.create(body, await actor(request));
        return json({ ...(await withHealth(row)), signing_secret: signingSecret }, 201);
      },
      op({
        summary: "Create a webhook; the answer shows its signing secret once",
        body: webhookCreateInput,
        response: webhookModel,
        status: 201,
      }),
    )
    .post(
      "/webhooks/preview",
      async ({ request, body }) => {
        await actor(request);
        const d = validate(previewInput, body);
        return json(previewCustomPayload(d.custom_payload, await service.catalogue.sample(d.sample)));
      },
      op({
        summary: "Render a custom payload template against a sample, with what it gets wrong",
        body: previewInput,
        response: z.strictObject({ body: z.string(), warnings: z.array(z.string()) }),
      }),
    )
    .get(
      "/webhooks/:id",
      async ({ request, params }) => (
        await actor(request), json(await withHealth(await endpoints.get(pathId(params.id, "webhook"))))
      ),
      op({ summary: "Read a webhook", response: webhookModel }),
    )
    .patch(
      "/webhooks/:id",
      async ({ request, params, body }) =>
        json(await withHealth(await endpoints.update(pathId(params.id, "webhook"), body, await actor(request)))),
      op({ summary: "Change some settings of a webhook", body: webhookUpdateInput, response: webhookModel }),
    )
    .put(
      "/webhooks/:id",
      async ({ request, params, body }) =>
        json(await withHealth(await endpoints.update(pathId(params.id, "webhook"), body, await actor(request)))),
      op({ summary: "Change a webhook", body: webhookUpdateInput, response: webhookModel }),
    )
    .delete(
      "/webhooks/:id",
      async ({ request, params }) => (
        await actor(request), await endpoints.delete(pathId(params.id, "webhook")), noContent()
      ),
      op({ summary: "Delete a webhook", response: null }),
    )
    .post(
      "/webhooks/:id/rotate_secret",
      async ({ request, params, body }) => {
        const id = await actor(request);
        const d = validate(rotateInput, body);
        const { row, signingSecret } = await endpoints.rotateSecret(pathId(params.id, "webhook"), d?.grace_hours, id);
        return json({ ...(await withHealth(row)), signing_secret: signingSecret });
      },
      op({
        summary: "Rotate the signing secret; the old one stays valid for grace_hours",
        body: rotateInput,
        response: webhookModel,
      }),
    )
    .post(
      "/webhooks/:id/enable",
      async ({ request, params }) => {
        await actor(request);
        const id = pathId(params.id, "webhook");
        await service.enable(id);
        return json(await withHealth(await endpoints.get(id)));
      },
      op({ summary: "Enable a webhook the engine disabled", response: webhookModel }),
    )
    .post(
      "/webhooks/:id/test",
      async ({ request, params, body }) => {
        await actor(request);
        const d = validate(testInput, body);
        return json(deliveryJson(await service.sendTest(pathId(params.id, "webhook"), d?.sample)), 202);
      },
      op({ summary: "Send a test delivery", body: testInput, response: deliveryModel, status: 202 }),
    )
    .get(
      "/webhooks/:id/deliveries",
      async ({ request, params, query }) => {
        await actor(request);
        const f = validate(deliveryFilter, query);
        const jobs = await service.deliveries(pathId(params.id, "webhook"), {
          status: f.status,
          beforeId: beforeIdOf(f),
          limit: f.limit + 1,
        });
        const page = pageOf(jobs, f.limit, (last) => [last.id]);
        return json({ data: page.data.map(deliveryJson), next_cursor: page.next_cursor });
      },
      op({
        summary: "A webhook's deliveries, newest first",
        query: deliveryFilter,
        response: z.strictObject({ data: z.array(deliveryModel), next_cursor: z.string().nullable() }),
      }),
    )
    .get(
      "/webhooks/:id/deliveries/:deliveryId",
      async ({ request, params }) => {
        await actor(request);
        const { job, attempts } = await service.delivery(
          pathId(params.id, "webhook"),
          pathId(params.deliveryId, "delivery"),
        );
        return json({
          ...deliveryJson(job),
          payload: await service.payloadOf(job),
          attempt_log: attempts.map(httpLogEntryJson),
        });
      },
      op({ summary: "A delivery with its payload and attempt log", response: deliveryModel }),
    )
    .post(
      "/webhooks/:id/deliveries/:deliveryId/redeliver",
      async ({ request, params }) => {
        await actor(request);
        return json(
          deliveryJson(await service.redeliver(pathId(params.id, "webhook"), pathId(params.deliveryId, "delivery"))),
          202,
        );
      },
      op({ summary: "Send a delivery again", response: deliveryModel, status: 202 }),
    )
    .post(
      "/webhooks/:id/deliveries/redeliver",
      async ({ request, params, body }) => {
        await actor(request);
        const { ids } = validate(bulkRedeliverInput, body);
        return json({ queued: await service.redeliverMany(pathId(params.id, "webhook"), ids) }, 202);
      },
      op({
        summary: "Send some deliveries of a webhook again (same delivery ids)",
        body: bulkRedeliverInput,
        response: z.strictObject({ queued: z.number().int() }),
        status: 202,
      }),
    )
    .get(
      "/webhooks/:id/recover",
      async ({ request, params, query }) => {
        await actor(request);
        const { since } = validate(recoverQuery, query);
        const failed = await service.failedSince(pathId(params.id, "webhook"), new Date(since));
        return json({ since: new Date(since).toISOString(), failed_deliveries: failed });
      },
      op({
        summary: "Count the failed deliveries a recovery since a time would send again",
        query: recoverQuery,
        response: z.strictObject({ since: isoTime, failed_deliveries: z.number().int() }),
      }),
    )
    .post(
      "/webhooks/:id/recover",
      async ({ request, params, body }) => {
        await actor(request);
        const { since } = validate(recoverInput, body);
        const run = await service.recover(pathId(params.id, "webhook"), new Date(since));
        return json({ queued: run.count, first_id: run.firstId, last_id: run.lastId }, 202);
      },
      op({
        summary: "Send every failed delivery since a time again; follow it with /recover/progress",
        body: recoverInput,
        response: z.strictObject({
          queued: z.number().int(),
          first_id: z.number().int().nullable(),
          last_id: z.number().int().nullable(),
        }),
        status: 202,
      }),
    )
    .get(
      "/webhooks/:id/recover/progress",
      async ({ request, params, query }) => {
        await actor(request);
        const q = validate(recoveryQuery, query);
        return json(await service.recovery(pathId(params.id, "webhook"), q.first_id, q.last_id));
      },
      op({ summary: "How far a recovery has come", query: recoveryQuery, response: recoveryModel }),
    )
    .get(
      "/event-types",
      async ({ request }) => (await actor(request), json({ data: await service.catalogue.entries() })),
      op({
        summary: "The event catalogue: every event type with an example payload, its fields and tokens",
        response: list(eventTypeModel),
      }),
    )
    .post(
      "/triggers/preview",
      async ({ request, body }) => {
        await actor(request);
        return json(await previewTrigger(service.previewDeps(), body));
      },
      op({
        summary: "Which of the last 100 events of the chosen types these (unsaved) conditions match",
        body: triggerPreviewInput,
        response: triggerPreviewModel,
      }),
    )
    .get(
      "/triggers",
      async ({ request }) => (
        await actor(request), json({ data: await Promise.all((await triggers.list()).map((t) => triggers.json(t))) })
      ),
      op({ summary: "List triggers", response: list(triggerModel) }),
    )
    .post(
      "/triggers",
      async ({ request, body }) => json(await triggers.json(await triggers.create(body, await actor(request))), 201),
      op({ summary: "Create a trigger", body: triggerCreateInput, response: triggerModel, status: 201 }),
    )
    .get(
      "/triggers/:id",
      async ({ request, params }) => (
        await actor(request), json(await triggers.json(await triggers.get(pathId(params.id, "trigger"))))
      ),
      op({ summary: "Read a trigger", response: triggerModel }),
    )
    .patch(
      "/triggers/:id",
      async ({ request, params, body }) =>
        json(await triggers.json(await triggers.update(pathId(params.id, "trigger"), body, await actor(request)))),
      op({ summary: "Change some fields of a trigger", body: triggerUpdateInput, response: triggerModel }),
    )
    .put(
      "/triggers/:id",
      async ({ request, params, body }) =>
        json(await triggers.json(await triggers.update(pathId(params.id, "trigger"), body, await actor(request)))),
      op({ summary: "Change a trigger", body: triggerUpdateInput, response: triggerModel }),
    )
    .delete(
      "/triggers/:id",
      async ({ request, params }) => (
        await actor(request), await triggers.delete(pathId(params.id, "trigger")), noContent()
      ),
      op({ summary: "Delete a trigger", response: null }),
    );
}
