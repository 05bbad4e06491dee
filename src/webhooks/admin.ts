import { pathId } from "../http/params";
import { Elysia } from "elysia";
import type { Job } from "../delivery/types";
import { beforeIdOf, pageOf } from "../domain/records";
import { maskedHeaders } from "../delivery/secret-headers";
import { AppError, unsupportedMediaType, type FieldIssue } from "../errors";
import { fieldErrors, formatTime, renderFragment } from "../views";
import type { WebhookJobPayload, WebhookService } from ".";
import { OPERATOR_LABELS } from "../conditions";
import { OPERATORS, TRIGGER_EVENTS } from "./conditions";
import { previewCustomPayload, type WebhookRow } from "./endpoints";
import type { Condition } from "./schema";
import type { TriggerRow } from "./triggers";
import { flashCookie, requireSession } from "../http/auth";
import type { AppContext } from "../http/context";
import type { SessionInfo } from "../domain/sessions";
import { html, redirect } from "../http/responses";
import { askSecretsAgain, headerField, headerLines, parseHeaderLines } from "../http/admin/forms";
import { adminPage } from "../http/admin/render";
import { showOnce } from "../http/admin/shown-once";

type Form = Record<string, unknown>;

/** A posted form; any other body (text/plain, a JSON array) is refused rather than read as one. */
function formBody(body: unknown): Form {
  if (body === undefined || body === null) return {};
  if (typeof body === "object" && !Array.isArray(body)) return body as Form;
  throw unsupportedMediaType("send the form as application/x-www-form-urlencoded or multipart/form-data");
}
const str = (form: Form, name: string) => (typeof form[name] === "string" ? (form[name] as string) : "");
const list = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : [];
const checked = (form: Form, name: string) => form[name] === "on" || form[name] === "true";
const num = (form: Form, name: string) => (str(form, name).trim() === "" ? undefined : Number(str(form, name)));
const CONDITION_ROWS = 3;

/** Field errors of a failed form, or rethrow what is not about the form's fields. */
function formErrors(err: unknown): Record<string, string> {
  if (err instanceof AppError && Array.isArray(err.details))
    return fieldErrors((err.details as FieldIssue[]).map((i) => ({ ...i, field: headerField(i.field) })));
  throw err;
}

/** The webhook form as API input: empty secret fields keep the saved secret. */
function webhookInput(form: Form, isNew: boolean): Record<string, unknown> {
  const input: Record<string, unknown> = {
    name: str(form, "name"),
    url: str(form, "url"),
    method: str(form, "method") || "POST",
    tls_verify: checked(form, "tls_verify"),
    timeout_seconds: num(form, "timeout_seconds"),
    headers: parseHeaderLines(str(form, "headers"), "headers"),
    secret_headers: parseHeaderLines(str(form, "secret_headers")),
    allow_self: checked(form, "allow_self"),
    auth_type: str(form, "auth_type") || "none",
    auth_username: str(form, "auth_username"),
    active: checked(form, "active"),
    note: str(form, "note"),
    custom_payload: str(form, "custom_payload"),
    zammad_compat: checked(form, "zammad_compat"),
    strict_order: checked(form, "strict_order"),
    max_attempts: num(form, "max_attempts"),
    retry_base_seconds: num(form, "retry_base_seconds"),
  };
  if (str(form, "signature_token")) input.signature_token = str(form, "signature_token");
  else if (checked(form, "remove_signature_token")) input.signature_token = null;
  if (str(form, "auth_password")) input.auth_password = str(form, "auth_password");
  if (isNew) for (const k of Object.keys(input)) if (input[k] === undefined) delete input[k];
  return input;
}

function formOf(w: WebhookRow) {
  return {
    name: w.name,
    url: w.url,
    method: w.method,
    timeout_seconds: w.timeoutSeconds,
    headers: headerLines(w.headers),
    secret_headers: headerLines(maskedHeaders(w.secretHeadersSealed)),
    allow_self: w.allowSelf,
    auth_type: w.authType,
    auth_username: w.authUsername ?? "",
    note: w.note ?? "",
    custom_payload: w.customPayload ?? "",
    max_attempts: w.maxAttempts,
    retry_base_seconds: w.retryBaseSeconds,
    tls_verify: w.tlsVerify,
    active: w.active,
    zammad_compat: w.zammadCompat,
    strict_order: w.strictOrder,
  };
}

function formView(form: Record<string, unknown>) {
  const method = String(form.method ?? "POST");
  const auth = String(form.auth_type ?? "none");
  return {
    ...form,
    methods: ["POST", "PUT", "PATCH"].map((m) => ({ value: m, selected: m === method })),
    authTypes: [
      { value: "none", label: "None" },
      { value: "basic", label: "Basic auth" },
      { value: "bearer", label: "Bearer token" },
    ].map((a) => ({ ...a, selected: a.value === auth })),
  };
}

const errorList = (errors: unknown) =>
  errors ? Object.entries(errors as Record<string, string>).map(([field, message]) => ({ field, message })) : null;
const pct = (r: number | null) => (r === null ? "—" : `${Math.round(r * 1000) / 10}%`);

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

function conditionRows(conditions: Condition[]) {
  const rows = [
    ...conditions,
    ...Array.from({ length: CONDITION_ROWS }, () => ({ field: "", operator: "is", value: "" }) as Condition),
  ];
  return rows.map((c, i) => ({
    index: i,
    field: c.field,
    value: Array.isArray(c.value) ? c.value.join(", ") : (c.value ?? ""),
    operators: OPERATORS.map((o) => ({ value: o, label: OPERATOR_LABELS[o], selected: o === c.operator })),
  }));
}

/** The trigger form as API input: condition rows with an empty field are ignored. */
function triggerInput(form: Form): Record<string, unknown> {
  const conditions: Record<string, unknown>[] = [];
  for (let i = 0; i < 100; i++) {
    if (!(`cond_field_${i}` in form)) break;
    const field = str(form, `cond_field_${i}`).trim();
    if (!field) continue;
    const operator = str(form, `cond_operator_${i}`);
    const value = str(form, `cond_value_${i}`);
    conditions.push({ field, operator, value: operator === "changed" ? null : value });
  }
  return {
    name: str(form, "name"),
    active: checked(form, "active"),
    events: list(form.events),
    match: str(form, "match") || "all",
    conditions,
    webhook_ids: list(form.webhook_ids).map(Number),
    note: str(form, "note"),
  };
}

/** Webhooks, their delivery log and triggers: server-rendered pages that work with and without htmx. */
export function webhookAdmin(ctx: AppContext, service: WebhookService) {
  const { endpoints, triggers } = service;

  const listPage = async (request: Request) => {
    const session = await requireSession(ctx, request);
    const hooks = await Promise.all(
      (await endpoints.list()).map(async (w) => {
        const h = await service.health(w.id);
        return {
          id: w.id,
          name: w.name,
          url: w.url,
          method: w.method,
          active: w.active,
          lastStatus: h.last_status ?? (h.last_error ? "error" : "—"),
          successRate: pct(h.success_rate),
          pending: h.pending_deliveries,
          disabled: h.disabled,
          paused: h.paused,
        };
      }),
    );
    return adminPage(ctx, request, session, "webhooks", { hooks }, { title: "Webhooks", section: "webhooks" });
  };

  const editPage = async (request: Request, id: number | null, data: Form = {}, status = 200) => {
    const session = await requireSession(ctx, request);
    const w = id === null ? null : await endpoints.get(id);
    const form = formView(
      (data.form as Form) ??
        (w
          ? formOf(w)
          : {
              method: "POST",
              timeout_seconds: 15,
              max_attempts: 5,
              retry_base_seconds: 30,
              active: true,
              tls_verify: true,
              auth_type: "none",
            }),
    );
    const health = w ? await service.health(w.id) : null;
    const view = {
      webhook: w && {
        id: w.id,
        hasToken: !!w.signatureTokenSealed,
        hasAuthSecret: !!w.authSecretSealed,
        previousExpires:
          w.previousSecretSealed && w.previousSecretExpiresAt && w.previousSecretExpiresAt > new Date()
            ? formatTime(w.previousSecretExpiresAt)
            : null,
        triggers: (await triggers.forWebhook(w.id)).map((t) => ({ id: t.id, name: t.name })),
      },
      health: health && {
        ...health,
        successRate: pct(health.success_rate),
        lastStatus: health.last_status ?? health.last_error ?? "—",
      },
      isNew: id === null,
      action: id === null ? "/webhooks" : `/webhooks/${id}`,
      ...data,
      form,
      errorList: errorList(data.errors),
    };
    return adminPage(ctx, request, session, "webhook-form", view, {
      title: w ? `Webhook ${w.name}` : "New webhook",
      section: "webhooks",
      status,
    });
  };

  const deliveriesPage = async (request: Request, id: number, query: Record<string, string | undefined>) => {
    const session = await requireSession(ctx, request);
    const w = await endpoints.get(id);
    const statuses = ["pending", "running", "succeeded", "failed", "cancelled"];
    const status = statuses.includes(query.status ?? "") ? query.status : undefined;
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
        statuses: statuses.map((s) => ({ value: s, selected: s === status })),
        status,
        next: page.next_cursor
          ? `/webhooks/${id}/deliveries?` +
            new URLSearchParams({ ...(status ? { status } : {}), cursor: page.next_cursor })
          : null,
      },
      { title: `Deliveries of ${w.name}`, section: "webhooks" },
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
        at: formatTime(a.createdAt),
        method: a.method,
        url: a.url,
        requestHeaders: Object.entries(a.requestHeaders).map(([name, value]) => ({ name, value })),
        requestBody: a.requestBody,
        status: a.responseStatus,
        responseHeaders: Object.entries(a.responseHeaders ?? {}).map(([name, value]) => ({ name, value })),
        responseBody: a.responseBody,
        error: a.error,
        durationMs: a.durationMs,
      })),
    };
  };

  const triggerPage = async (request: Request, id: number | null, data: Form = {}, status = 200) => {
    const session = await requireSession(ctx, request);
    const t: TriggerRow | null = id === null ? null : await triggers.get(id);
    const input =
      (data.input as Record<string, unknown> | undefined) ??
      (t
        ? { ...(await triggers.json(t)) }
        : { active: true, match: "all", events: [], conditions: [], webhook_ids: [] });
    const events = input.events as string[];
    const hookIds = (input.webhook_ids as number[]).map(Number);
    const view = {
      trigger: t && { id: t.id },
      isNew: id === null,
      action: id === null ? "/triggers" : `/triggers/${id}`,
      form: {
        name: input.name ?? "",
        note: input.note ?? "",
        active: input.active,
        matchAll: input.match !== "any",
        matchAny: input.match === "any",
      },
      events: TRIGGER_EVENTS.map((e) => ({ value: e, checked: events.includes(e) })),
      conditions: conditionRows(input.conditions as Condition[]),
      hooks: (await endpoints.list()).map((w) => ({ id: w.id, name: w.name, checked: hookIds.includes(w.id) })),
      ...data,
      errorList: errorList(data.errors),
    };
    return adminPage(ctx, request, session, "trigger-form", view, {
      title: t ? `Trigger ${t.name}` : "New trigger",
      section: "webhooks",
      status,
    });
  };

  /** Ends a create or rotate with a redirect; the new signing secret waits there, to be shown once. */
  const secretShown = (request: Request, session: SessionInfo, id: number, signingSecret: string, message: string) => {
    showOnce(ctx, session, `/webhooks/${id}`, { newSecret: signingSecret, secretMessage: message });
    return redirect(request, `/webhooks/${id}`);
  };

  /** A failed form shown again as typed; typed secrets are never sent back, so their fields ask for them again. */
  const failedForm = async (request: Request, id: number | null, form: Form, err: unknown) => {
    const errors = askSecretsAgain(form, ["signature_token", "auth_password"], formErrors(err));
    return await editPage(request, id, { form: { ...form, signature_token: "", auth_password: "" }, errors }, 422);
  };

  return new Elysia()
    .get("/webhooks", ({ request }) => listPage(request))
    .get("/webhooks/new", ({ request }) => editPage(request, null))
    .post("/webhooks", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      const form = formBody(body);
      try {
        const { row, signingSecret } = await endpoints.create(webhookInput(form, true), session.user.id);
        return secretShown(
          request,
          session,
          row.id,
          signingSecret,
          "Webhook created. Copy its signing secret now: it is not shown again.",
        );
      } catch (err) {
        return failedForm(request, null, form, err);
      }
    })
    .post("/webhooks/preview", async ({ request, body }) => {
      await requireSession(ctx, request);
      const form = formBody(body);
      const kind = (["ticket", "user", "organization"] as const).find((k) => k === str(form, "sample")) ?? "ticket";
      let data: Form;
      try {
        data = str(form, "custom_payload").trim()
          ? { preview: previewCustomPayload(str(form, "custom_payload"), kind, ctx.config.publicUrl) }
          : { preview: "(empty: the default payload is sent)" };
      } catch (err) {
        data = { previewError: formErrors(err).custom_payload };
      }
      if (request.headers.get("HX-Request"))
        return html(renderFragment("payload-preview", data), { status: data.previewError ? 422 : 200 });
      const id = /^\d+$/.test(str(form, "webhook_id")) ? Number(str(form, "webhook_id")) : null;
      return await editPage(request, id, { form: { ...form, signature_token: "", auth_password: "" }, ...data });
    })
    .get("/webhooks/:id", ({ request, params }) => editPage(request, pathId(params.id, "webhook")))
    .post("/webhooks/:id", async ({ request, params, body }) => {
      const session = await requireSession(ctx, request);
      const id = pathId(params.id, "webhook");
      const form = formBody(body);
      try {
        await endpoints.update(id, webhookInput(form, false), session.user.id);
        return redirect(request, `/webhooks/${id}`, [flashCookie(ctx, { kind: "success", message: "Webhook saved." })]);
      } catch (err) {
        return failedForm(request, id, form, err);
      }
    })
    .post("/webhooks/:id/delete", async ({ request, params }) => {
      await requireSession(ctx, request);
      await endpoints.delete(pathId(params.id, "webhook"));
      return redirect(request, "/webhooks", [flashCookie(ctx, { kind: "success", message: "Webhook deleted." })]);
    })
    .post("/webhooks/:id/rotate", async ({ request, params, body }) => {
      const session = await requireSession(ctx, request);
      const id = pathId(params.id, "webhook");
      const hours = Number(str(formBody(body), "grace_hours") || 24);
      try {
        const { signingSecret } = await endpoints.rotateSecret(id, hours, session.user.id);
        return secretShown(
          request,
          session,
          id,
          signingSecret,
          hours > 0
            ? `New signing secret. The old one keeps signing for ${hours} hours.`
            : "New signing secret. The old one no longer signs.",
        );
      } catch (err) {
        return editPage(request, id, { errors: formErrors(err) }, 422);
      }
    })
    .post("/webhooks/:id/enable", async ({ request, params }) => {
      await requireSession(ctx, request);
      const id = pathId(params.id, "webhook");
      await service.enable(id);
      return redirect(request, `/webhooks/${id}`, [
        flashCookie(ctx, { kind: "success", message: "Deliveries resumed." }),
      ]);
    })
    .post("/webhooks/:id/test", async ({ request, params, body }) => {
      await requireSession(ctx, request);
      const id = pathId(params.id, "webhook");
      const kind =
        (["ticket", "user", "organization"] as const).find((k) => k === str(formBody(body), "sample")) ?? "ticket";
      const job = await service.sendTest(id, kind);
      return redirect(request, `/webhooks/${id}/deliveries/${job.id}`);
    })
    .get("/webhooks/:id/deliveries", ({ request, params, query }) =>
      deliveriesPage(request, pathId(params.id, "webhook"), query as Record<string, string | undefined>),
    )
    .get("/webhooks/:id/deliveries/:jobId", async ({ request, params }) => {
      const session = await requireSession(ctx, request);
      const data = await deliveryDetail(pathId(params.id, "webhook"), pathId(params.jobId, "delivery"));
      // htmx polls the detail while the delivery is under way: answer the fragment only.
      if (request.headers.get("HX-Request")) return html(renderFragment("delivery-detail", data));
      return adminPage(ctx, request, session, "webhook-delivery", data, {
        title: `Delivery ${data.delivery.deliveryId}`,
        section: "webhooks",
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
    .get("/triggers", async ({ request }) => {
      const session = await requireSession(ctx, request);
      const names = new Map((await endpoints.list()).map((w) => [w.id, w.name]));
      const rows = await Promise.all(
        (await triggers.list()).map(async (t) => {
          const j = await triggers.json(t);
          return {
            id: t.id,
            name: t.name,
            active: t.active,
            events: t.events.join(", "),
            conditions: t.conditions.length,
            webhooks: j.webhook_ids.map((i) => names.get(i)).join(", "),
          };
        }),
      );
      return adminPage(
        ctx,
        request,
        session,
        "triggers",
        { triggers: rows },
        { title: "Triggers", section: "webhooks" },
      );
    })
    .get("/triggers/new", ({ request }) => triggerPage(request, null))
    .post("/triggers", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      const input = triggerInput(formBody(body));
      try {
        const t = await triggers.create(input, session.user.id);
        return redirect(request, `/triggers/${t.id}`, [
          flashCookie(ctx, { kind: "success", message: "Trigger created." }),
        ]);
      } catch (err) {
        return triggerPage(request, null, { input, errors: formErrors(err) }, 422);
      }
    })
    .get("/triggers/:id", ({ request, params }) => triggerPage(request, pathId(params.id, "trigger")))
    .post("/triggers/:id", async ({ request, params, body }) => {
      const session = await requireSession(ctx, request);
      const id = pathId(params.id, "trigger");
      const input = triggerInput(formBody(body));
      try {
        await triggers.update(id, input, session.user.id);
        return redirect(request, `/triggers/${id}`, [flashCookie(ctx, { kind: "success", message: "Trigger saved." })]);
      } catch (err) {
        return triggerPage(request, id, { input, errors: formErrors(err) }, 422);
      }
    })
    .post("/triggers/:id/delete", async ({ request, params }) => {
      await requireSession(ctx, request);
      await triggers.delete(pathId(params.id, "trigger"));
      return redirect(request, "/triggers", [flashCookie(ctx, { kind: "success", message: "Trigger deleted." })]);
    });
}
