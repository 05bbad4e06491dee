import { scriptResponse } from "../http/assets";
import { pathId } from "../http/params";
import { Elysia } from "elysia";
import { maskedHeaders } from "../delivery/secret-headers";
import { AppError, unsupportedMediaType, type FieldIssue } from "../errors";
import { fieldErrors, formatTime, renderFragment } from "../views";
import type { WebhookService } from ".";
import { attemptsChart } from "../http/admin/attempts-chart";
import { TRIGGER_EVENTS } from "./catalogue";
import { previewCustomPayload, type PayloadPreview, type WebhookRow } from "./endpoints";
import { PREVIEW_EVENTS, previewTrigger, type TriggerPreview } from "./trigger-preview";
import { TRIGGER_EDITOR_SCRIPT } from "./trigger-editor-script";
import {
  conditionRowsOf,
  conditionRowViews,
  conditionsOf,
  editorCatalogue,
  rowErrors,
  rowsOfConditions,
  templateRowView,
  type ConditionRow,
} from "./trigger-form";
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

/**
 * The webhook's state as the admin sees it. The Active switch is the admin's; the delivery engine
 * disables a destination on its own (410 Gone, days of failures), so both are shown as one.
 */
function stateOf(active: boolean, health: { disabled: boolean; paused: boolean }) {
  if (health.disabled) return { label: "Disabled", badge: "badge-error" };
  if (!active) return { label: "Inactive", badge: "" };
  if (health.paused) return { label: "Paused", badge: "badge-warn" };
  return { label: "Active", badge: "badge-ok" };
}

/** A disabled webhook's form shows Active unticked: ticking it and saving sends again. */
function formOf(w: WebhookRow, disabled: boolean) {
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
    active: w.active && !disabled,
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

/** The trigger form as API input, and its condition rows as typed (rows without a field are ignored). */
function triggerInput(form: Form): { input: Record<string, unknown>; rows: ConditionRow[] } {
  const rows = conditionRowsOf(form);
  const input = {
    name: str(form, "name"),
    active: checked(form, "active"),
    events: list(form.events),
    match: str(form, "match") || "all",
    conditions: conditionsOf(rows),
    webhook_ids: list(form.webhook_ids).map(Number),
    note: str(form, "note"),
  };
  return { input, rows };
}

/** A custom-payload preview as the page shows it. */
const previewOf = (p: PayloadPreview) => ({ preview: p.body, previewWarnings: p.warnings });

/** A preview as the page shows it: the matches with links to their records. */
const RECORD_PAGES: Record<string, string> = {
  ticket: "/tickets",
  user: "/people",
  organization: "/organizations",
  group: "/groups",
};
function previewView(p: TriggerPreview) {
  return {
    ...p,
    examples: p.examples.map((e) => ({
      ...e,
      at: formatTime(new Date(e.created_at)),
      link:
        RECORD_PAGES[e.object_type] && !e.type.endsWith(".deleted")
          ? `${RECORD_PAGES[e.object_type]}/${e.object_id}`
          : null,
    })),
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
    const health = w ? await service.health(w.id) : null;
    const form = formView(
      (data.form as Form) ??
        (w
          ? formOf(w, !!health?.disabled)
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
      state: health && stateOf(w!.active, health),
      chart: w && attemptsChart(await service.attemptsByHour(w.id)),
      recoverSince: new Date(Date.now() - 86_400_000).toISOString().slice(0, 16),
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

  type TriggerPageData = {
    input?: Record<string, unknown>;
    rows?: ConditionRow[];
    errors?: Record<string, string>;
    preview?: ReturnType<typeof previewView>;
    previewErrors?: { field: string; message: string }[];
  };
  const triggerPage = async (request: Request, id: number | null, data: TriggerPageData = {}, status = 200) => {
    const session = await requireSession(ctx, request);
    const t: TriggerRow | null = id === null ? null : await triggers.get(id);
    const input =
      data.input ??
      (t
        ? { ...(await triggers.json(t)) }
        : { active: true, match: "all", events: [], conditions: [], webhook_ids: [] });
    const events = input.events as string[];
    const hookIds = (input.webhook_ids as number[]).map(Number);
    const rows = data.rows ?? rowsOfConditions(t && !data.input ? t.conditions : []);
    const { byRow, labelled } = rowErrors(rows, data.errors ?? {});
    const entries = await service.catalogue.entries();
    const descriptions = new Map(entries.map((e) => [e.type, e.description]));
    const paths = (await service.catalogue.fieldsFor(events.length ? events : TRIGGER_EVENTS)).map((f) => f.path);
    const conditions = conditionRowViews(rows, paths.sort(), byRow);
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
      events: TRIGGER_EVENTS.map((e) => ({ value: e, checked: events.includes(e), description: descriptions.get(e) })),
      conditions,
      blankRow: templateRowView(),
      catalogue: JSON.stringify(await editorCatalogue(ctx.db, entries)),
      previewEvents: PREVIEW_EVENTS,
      hooks: (await endpoints.list()).map((w) => ({ id: w.id, name: w.name, checked: hookIds.includes(w.id) })),
      errors: data.errors,
      preview: data.preview,
      previewErrors: data.previewErrors,
      errorList: errorList(labelled),
    };
    return adminPage(ctx, request, session, "trigger-form", view, {
      title: t ? `Trigger ${t.name}` : "New trigger",
      section: "webhooks",
      status,
    });
  };

  /** The preview of a posted trigger form: the fragment for htmx, else the form page showing it. */
  const triggerPreviewAnswer = async (request: Request, form: Form) => {
    await requireSession(ctx, request);
    const { input, rows } = triggerInput(form);
    let data: TriggerPageData;
    try {
      const { events, match, conditions } = input;
      data = { preview: previewView(await previewTrigger(service.previewDeps(), { events, match, conditions })) };
    } catch (err) {
      const { labelled } = rowErrors(rows, formErrors(err));
      data = { previewErrors: errorList(labelled) ?? [] };
    }
    if (request.headers.get("HX-Request")) return html(renderFragment("trigger-preview", data));
    const id = /^\d+$/.test(str(form, "trigger_id")) ? Number(str(form, "trigger_id")) : null;
    return triggerPage(request, id, { input, rows, ...data });
  };

  /** Ends a create or rotate with a redirect; the new signing secret waits there, to be shown once. */
  const secretShown = async (
    request: Request,
    session: SessionInfo,
    id: number,
    signingSecret: string,
    message: string,
  ) => {
    await showOnce(ctx, session, `/webhooks/${id}`, { newSecret: signingSecret, secretMessage: message });
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
          ? previewOf(previewCustomPayload(str(form, "custom_payload"), await service.catalogue.sample(kind)))
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
        const enable = checked(form, "active") && (await service.health(id)).disabled;
        if (enable) await service.enable(id);
        const message = enable ? "Webhook saved and enabled again." : "Webhook saved.";
        return redirect(request, `/webhooks/${id}`, [flashCookie(ctx, { kind: "success", message })]);
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
    .post("/triggers/preview", ({ request, body }) => triggerPreviewAnswer(request, formBody(body)))
    .get("/event-types", async ({ request }) => {
      const session = await requireSession(ctx, request);
      const entries = (await service.catalogue.entries()).map((e) => ({
        ...e,
        anchor: e.type.replace(".", "-"),
        example: JSON.stringify(e.example, null, 2),
        tokens: e.tokens.map((t) => `{{${t}}}`),
      }));
      return adminPage(
        ctx,
        request,
        session,
        "event-types",
        { entries },
        { title: "Event catalogue", section: "webhooks" },
      );
    })
    .get("/assets/trigger-editor.js", () => scriptResponse(TRIGGER_EDITOR_SCRIPT))
    .post("/triggers", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      const { input, rows } = triggerInput(formBody(body));
      try {
        const t = await triggers.create(input, session.user.id);
        return redirect(request, `/triggers/${t.id}`, [
          flashCookie(ctx, { kind: "success", message: "Trigger created." }),
        ]);
      } catch (err) {
        return triggerPage(request, null, { input, rows, errors: formErrors(err) }, 422);
      }
    })
    .get("/triggers/:id", ({ request, params }) => triggerPage(request, pathId(params.id, "trigger")))
    .post("/triggers/:id", async ({ request, params, body }) => {
      const session = await requireSession(ctx, request);
      const id = pathId(params.id, "trigger");
      const { input, rows } = triggerInput(formBody(body));
      try {
        await triggers.update(id, input, session.user.id);
        return redirect(request, `/triggers/${id}`, [flashCookie(ctx, { kind: "success", message: "Trigger saved." })]);
      } catch (err) {
        return triggerPage(request, id, { input, rows, errors: formErrors(err) }, 422);
      }
    })
    .post("/triggers/:id/delete", async ({ request, params }) => {
      await requireSession(ctx, request);
      await triggers.delete(pathId(params.id, "trigger"));
      return redirect(request, "/triggers", [flashCookie(ctx, { kind: "success", message: "Trigger deleted." })]);
    });
}
