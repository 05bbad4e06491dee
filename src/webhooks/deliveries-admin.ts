import { Elysia } from "elysia";
import { z } from "zod";
import type { Job } from "../delivery/types";
import { beforeIdOf, pageOf } from "../domain/records";
import { AppError, validate, type FieldIssue } from "../errors";
import { flashCookie, requireSession } from "../http/auth";
import type { Crumb } from "../http/admin/breadcrumbs";
import { httpExchangeView } from "../http/admin/http-exchange";
import { adminPage } from "../http/admin/render";
import type { AppContext } from "../http/context";
import { pathId } from "../http/params";
import { html, redirect } from "../http/responses";
import { fieldErrors, formatTime, renderFragment } from "../views";
import type { WebhookJobPayload, WebhookService } from ".";

const STATUSES = ["pending", "running", "succeeded", "failed", "cancelled"] as const;
const DAY_MS = 86_400_000;

/** A `datetime-local` value (the admin pages speak UTC) or an ISO time with its offset. */
const sinceField = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/, "must be a date and time")
  .transform((v) => new Date(/(Z|[+-]\d{2}:\d{2})$/.test(v) ? v : `${v}Z`))
  .refine((d) => !Number.isNaN(d.getTime()), "must be a date and time");

const recoverForm = z.object({ since: sinceField });
const bulkForm = z.object({
  job_ids: z.preprocess(
    (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]),
    z.array(z.coerce.number().int().positive("must be a delivery number")).max(500, "at most 500 at once"),
  ),
  status: z.enum(STATUSES).or(z.literal("")).optional(),
});
const runQuery = z.object({
  first: z.coerce.number().int().positive("must be a number"),
  last: z.coerce.number().int().positive("must be a number"),
});

/** The trail of a page below a webhook: Webhooks › its name › this page. */
const crumbsOf = (w: { id: number; name: string }, ...rest: Crumb[]): Crumb[] => [
  { label: "Webhooks", href: "/webhooks" },
  { label: w.name, href: `/webhooks/${w.id}` },
  ...rest,
];

/** `datetime-local` value of a time, in UTC. */
const localValue = (d: Date) => d.toISOString().slice(0, 16);

function deliveryView(webhookId: number, j: Job) {
  const p = j.payload as WebhookJobPayload;
  return {
    id: j.id,
    webhookId,
    deliveryId: j.deliveryId,
    status: j.status,
    ok: j.status === "succeeded",
    bad: j.status === "failed",
    waiting: j.status === "pending" || j.status === "running",
    event: p.event_type,
    trigger: p.trigger_name,
    attempts: j.attempts,
    lastStatus: j.lastStatus ?? "—",
    lastError: j.lastError,
    created: formatTime(j.createdAt),
    nextAt: j.status === "pending" ? formatTime(j.runAt) : null,
    redeliveryOf: j.redeliveryOf,
  };
}

/** Field messages of a refused form, or rethrow what is not about its fields. */
function formErrors(err: unknown): Record<string, string> {
  if (err instanceof AppError && Array.isArray(err.details)) return fieldErrors(err.details as FieldIssue[]);
  throw err;
}

/**
 * A webhook's delivery log (with bulk redelivery), one delivery's attempts, and recovery: every
 * failed delivery since a time sent again, counted before and followed after.
 */
export function webhookDeliveryAdmin(ctx: AppContext, service: WebhookService) {
  const { endpoints } = service;

  const deliveriesPage = async (request: Request, id: number, query: Record<string, string | undefined>) => {
    const session = await requireSession(ctx, request);
    const w = await endpoints.get(id);
    const status = STATUSES.find((s) => s === query.status);
    const jobs = await service.deliveries(id, { status, beforeId: beforeIdOf({ cursor: query.cursor }), limit: 51 });
    const page = pageOf(jobs, 50, (last) => [last.id]);
    return adminPage(
      ctx,
      request,
      session,
      "webhook-deliveries",
      {
        webhook: { id: w.id, name: w.name },
        deliveries: page.data.map((j) => deliveryView(id, j)),
        statuses: STATUSES.map((s) => ({ value: s, selected: s === status })),
        status: status ?? "",
        next: page.next_cursor
          ? `/webhooks/${id}/deliveries?` +
            new URLSearchParams({ ...(status ? { status } : {}), cursor: page.next_cursor })
          : null,
      },
      { title: `Deliveries of ${w.name}`, section: "webhooks", crumbs: crumbsOf(w, { label: "Deliveries" }) },
    );
  };

  const deliveryDetail = async (id: number, jobId: number) => {
    const w = await endpoints.get(id);
    const { job, attempts } = await service.delivery(id, jobId);
    return {
      webhook: { id: w.id, name: w.name },
      delivery: deliveryView(id, job),
      attempts: attempts.map((a) => ({
        attempt: a.attempt,
        logId: a.id,
        // The delivery id heads the page: each attempt need not repeat it.
        exchange: { ...httpExchangeView(a, a.id), deliveryId: null },
      })),
    };
  };

  const recoverPage = async (request: Request, id: number, query: Record<string, unknown>) => {
    const session = await requireSession(ctx, request);
    const w = await endpoints.get(id);
    const typed = typeof query.since === "string" ? query.since : localValue(new Date(Date.now() - DAY_MS));
    let errors: Record<string, string> | null = null;
    let count: number | null = null;
    if (query.since !== undefined) {
      try {
        count = await service.failedSince(id, validate(recoverForm, query).since);
      } catch (err) {
        errors = formErrors(err);
      }
    }
    return adminPage(
      ctx,
      request,
      session,
      "webhook-recover",
      {
        webhook: { id: w.id, name: w.name },
        since: typed,
        count,
        countLabel: `${count} failed ${count === 1 ? "delivery" : "deliveries"}`,
        counted: count !== null,
        errors,
      },
      {
        title: `Recover failed deliveries of ${w.name}`,
        section: "webhooks",
        status: errors ? 422 : 200,
        crumbs: crumbsOf(w, { label: "Recover failed deliveries" }),
      },
    );
  };

  const recoveryView = async (id: number, first: number, last: number) => ({
    webhookId: id,
    first,
    last,
    ...(await service.recovery(id, first, last)),
  });

  return new Elysia()
    .get("/webhooks/:id/deliveries", ({ request, params, query }) =>
      deliveriesPage(request, pathId(params.id, "webhook"), query as Record<string, string | undefined>),
    )
    .post("/webhooks/:id/deliveries/redeliver", async ({ request, params, body }) => {
      await requireSession(ctx, request);
      const id = pathId(params.id, "webhook");
      const form = validate(bulkForm, body ?? {});
      const back = `/webhooks/${id}/deliveries${form.status ? `?status=${form.status}` : ""}`;
      if (!form.job_ids.length)
        return redirect(request, back, [
          flashCookie(ctx, { kind: "error", message: "Select the deliveries to send again." }),
        ]);
      const count = await service.redeliverMany(id, form.job_ids);
      const message = `${count} ${count === 1 ? "delivery" : "deliveries"} queued again (same delivery ids).`;
      return redirect(request, back, [flashCookie(ctx, { kind: "success", message })]);
    })
    .get("/webhooks/:id/deliveries/:jobId", async ({ request, params }) => {
      const session = await requireSession(ctx, request);
      const data = await deliveryDetail(pathId(params.id, "webhook"), pathId(params.jobId, "delivery"));
      // htmx polls the detail while the delivery is under way: answer the fragment only.
      if (request.headers.get("HX-Request")) return html(renderFragment("delivery-detail", data));
      return adminPage(ctx, request, session, "webhook-delivery", data, {
        title: `Delivery ${data.delivery.deliveryId}`,
        section: "webhooks",
        crumbs: crumbsOf(
          data.webhook,
          { label: "Deliveries", href: `/webhooks/${data.webhook.id}/deliveries` },
          { label: data.delivery.deliveryId },
        ),
      });
    })
    .post("/webhooks/:id/deliveries/:jobId/redeliver", async ({ request, params }) => {
      await requireSession(ctx, request);
      const id = pathId(params.id, "webhook");
      const job = await service.redeliver(id, pathId(params.jobId, "delivery"));
      return redirect(request, `/webhooks/${id}/deliveries/${job.id}`, [
        flashCookie(ctx, { kind: "success", message: "Redelivery queued (same delivery id)." }),
      ]);
    })
    .get("/webhooks/:id/recover", ({ request, params, query }) =>
      recoverPage(request, pathId(params.id, "webhook"), query as Record<string, unknown>),
    )
    .post("/webhooks/:id/recover", async ({ request, params, body }) => {
      await requireSession(ctx, request);
      const id = pathId(params.id, "webhook");
      let since: Date;
      try {
        since = validate(recoverForm, body ?? {}).since;
      } catch (err) {
        formErrors(err);
        return recoverPage(request, id, body as Record<string, unknown>);
      }
      const run = await service.recover(id, since);
      if (!run.count)
        return redirect(request, `/webhooks/${id}`, [
          flashCookie(ctx, { kind: "success", message: "No failed deliveries to send again." }),
        ]);
      return redirect(request, `/webhooks/${id}/recovery?first=${run.firstId}&last=${run.lastId}`);
    })
    .get("/webhooks/:id/recovery", async ({ request, params, query }) => {
      const session = await requireSession(ctx, request);
      const id = pathId(params.id, "webhook");
      const w = await endpoints.get(id);
      const { first, last } = validate(runQuery, query);
      const recovery = await recoveryView(id, first, last);
      // htmx polls the progress until every job has finished.
      if (request.headers.get("HX-Request")) return html(renderFragment("recovery-progress", { recovery }));
      return adminPage(
        ctx,
        request,
        session,
        "webhook-recovery",
        { webhook: { id: w.id, name: w.name }, recovery },
        {
          title: `Recovering deliveries of ${w.name}`,
          section: "webhooks",
          crumbs: crumbsOf(w, { label: "Recovery" }),
        },
      );
    });
}
