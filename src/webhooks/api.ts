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
import { createSchema as triggerCreateInput, updateSchema as triggerUpdateInput } from "./triggers";
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
        return json({ body: previewCustomPayload(d.custom_payload, d.sample, ctx.config.publicUrl) });
      },
      op({
        summary: "Render a custom payload template against a sample",
        body: previewInput,
        response: z.strictObject({ body: z.string() }),
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
