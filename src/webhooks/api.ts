import { Elysia } from "elysia";
import { z } from "zod";
import { httpLogEntryJson } from "../delivery/http-log";
import type { Job } from "../delivery/types";
import { validate } from "../errors";
import type { WebhookService, WebhookJobPayload } from ".";
import { previewCustomPayload, webhookJson } from "./endpoints";
import { requireApiToken } from "../http/auth";
import type { AppContext } from "../http/context";
import { json } from "../http/responses";
import { noContent, pathId } from "../http/params";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const deliveryJson = (j: Job) => {
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
  before_id: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).optional().default(50),
});
const sampleKind = z.enum(["ticket", "user", "organization"]).optional().default("ticket");
const previewInput = z.strictObject({ custom_payload: z.string().max(100_000), sample: sampleKind });
const rotateInput = z.strictObject({ grace_hours: z.number().min(0).max(720).optional() }).optional();
const testInput = z.strictObject({ sample: sampleKind }).optional();

/** Webhooks, their deliveries and triggers through the REST API: everything the admin pages do. */
export function webhooksApi(ctx: AppContext, service: WebhookService) {
  const { endpoints, triggers } = service;
  const actor = (request: Request) => requireApiToken(ctx, request).actorId;
  const withHealth = (w: Parameters<typeof webhookJson>[0]) => ({ ...webhookJson(w), health: service.health(w.id) });
  return new Elysia({ prefix: "/api/v1" })
    .get("/webhooks", ({ request }) => (actor(request), json({ data: endpoints.list().map(withHealth) })))
    .post("/webhooks", async ({ request, body }) => {
      const { row, signingSecret } = await endpoints.create(body, actor(request));
      return json({ ...withHealth(row), signing_secret: signingSecret }, 201);
    })
    .post("/webhooks/preview", ({ request, body }) => {
      actor(request);
      const d = validate(previewInput, body);
      return json({ body: previewCustomPayload(d.custom_payload, d.sample, ctx.config.publicUrl) });
    })
    .get("/webhooks/:id", ({ request, params }) => (actor(request), json(withHealth(endpoints.get(pathId(params.id, "webhook"))))))
    .patch("/webhooks/:id", async ({ request, params, body }) => json(withHealth(await endpoints.update(pathId(params.id, "webhook"), body, actor(request)))))
    .put("/webhooks/:id", async ({ request, params, body }) => json(withHealth(await endpoints.update(pathId(params.id, "webhook"), body, actor(request)))))
    .delete("/webhooks/:id", ({ request, params }) => (actor(request), endpoints.delete(pathId(params.id, "webhook")), noContent()))
    .post("/webhooks/:id/rotate_secret", async ({ request, params, body }) => {
      const id = actor(request);
      const d = validate(rotateInput, body);
      const { row, signingSecret } = await endpoints.rotateSecret(pathId(params.id, "webhook"), d?.grace_hours, id);
      return json({ ...withHealth(row), signing_secret: signingSecret });
    })
    .post("/webhooks/:id/enable", ({ request, params }) => {
      actor(request);
      const id = pathId(params.id, "webhook");
      service.enable(id);
      return json(withHealth(endpoints.get(id)));
    })
    .post("/webhooks/:id/test", ({ request, params, body }) => {
      actor(request);
      const d = validate(testInput, body);
      return json(deliveryJson(service.sendTest(pathId(params.id, "webhook"), d?.sample)), 202);
    })
    .get("/webhooks/:id/deliveries", ({ request, params, query }) => {
      actor(request);
      const f = validate(deliveryFilter, query);
      const jobs = service.deliveries(pathId(params.id, "webhook"), { status: f.status, beforeId: f.before_id, limit: f.limit + 1 });
      const page = jobs.slice(0, f.limit);
      return json({ data: page.map(deliveryJson), next_before_id: jobs.length > f.limit ? page.at(-1)!.id : null });
    })
    .get("/webhooks/:id/deliveries/:deliveryId", ({ request, params }) => {
      actor(request);
      const { job, attempts } = service.delivery(pathId(params.id, "webhook"), pathId(params.deliveryId, "delivery"));
      return json({ ...deliveryJson(job), payload: service.payloadOf(job), attempt_log: attempts.map(httpLogEntryJson) });
    })
    .post("/webhooks/:id/deliveries/:deliveryId/redeliver", ({ request, params }) => {
      actor(request);
      return json(deliveryJson(service.redeliver(pathId(params.id, "webhook"), pathId(params.deliveryId, "delivery"))), 202);
    })
    .get("/triggers", ({ request }) => (actor(request), json({ data: triggers.list().map((t) => triggers.json(t)) })))
    .post("/triggers", ({ request, body }) => json(triggers.json(triggers.create(body, actor(request))), 201))
    .get("/triggers/:id", ({ request, params }) => (actor(request), json(triggers.json(triggers.get(pathId(params.id, "trigger"))))))
    .patch("/triggers/:id", ({ request, params, body }) => json(triggers.json(triggers.update(pathId(params.id, "trigger"), body, actor(request)))))
    .put("/triggers/:id", ({ request, params, body }) => json(triggers.json(triggers.update(pathId(params.id, "trigger"), body, actor(request)))))
    .delete("/triggers/:id", ({ request, params }) => (actor(request), triggers.delete(pathId(params.id, "trigger")), noContent()));
}
