import { pathId } from "../http/params";
import { Elysia } from "elysia";
import type { SessionInfo } from "../domain/sessions";
import { getUserRow } from "../domain/users";
import { listCustomFields } from "../domain/custom-fields";
import type { Enrichment } from ".";
import { OPERATORS, type Condition } from "./audiences";
import type { ClearbitEnrichment, PlanResult } from "./clearbit";
import { formatMappings, MAPPABLE_ORGANIZATION_FIELDS, MAPPABLE_USER_FIELDS, parseMappings } from "./mappings";
import { settingsJson } from "./settings";
import { answerRows, humanName } from "./traits";
import { AppError, ValidationError, type FieldIssue } from "../errors";
import { formatTime, renderFragment } from "../views";
import { flashCookie, requireSession } from "../http/auth";
import type { AppContext } from "../http/context";
import { html, redirect } from "../http/responses";
import { askSecretsAgain, errorStatus, formErrors, isHtmx } from "../http/admin/forms";
import { adminPage, signedInPage } from "../http/admin/render";

type Form = Record<string, unknown>;
const str = (v: unknown) => (typeof v === "string" ? v : "");

const URL_FIELDS = [
  { name: "person_url", label: "Person API base URL" },
  { name: "company_url", label: "Company API base URL" },
  { name: "stream_url", label: "Streaming API base URL" },
] as const;
const NUMBER_FIELDS = [
  { name: "refresh_interval_hours", label: "Refresh interval (hours)" },
  { name: "backfill_window_days", label: "Backfill window (days seen)" },
  { name: "backfill_every_hours", label: "Backfill every (hours)" },
  { name: "unknown_retry_days", label: "Ask again about unknown emails after (days)" },
  { name: "rate_limit_per_minute", label: "Rate limit (requests per minute)" },
] as const;
const CHECK_FIELDS = [
  { name: "use_streaming", label: "Use the streaming API (blocks until ready)" },
  { name: "use_callbacks", label: "Receive queued results by callback" },
  { name: "create_organizations", label: "Create unknown organizations" },
  { name: "organizations_shared", label: "Created organizations are shared" },
] as const;

const PLAN_MESSAGES: Record<PlanResult, { kind: "success" | "info" | "error"; message: string }> = {
  queued: { kind: "success", message: "Lookup queued; the answer is merged when Clearbit replies." },
  cached: {
    kind: "success",
    message: "Applied Clearbit's answer from the last check (within the refresh interval, no new call).",
  },
  pending: { kind: "info", message: "A lookup for this email is already under way." },
  unknown: {
    kind: "info",
    message: "Clearbit does not know this email; it is asked again after the configured number of days.",
  },
  invalid: { kind: "error", message: "Clearbit refused this email as invalid." },
  disabled: { kind: "error", message: "Clearbit is not enabled: enable it under Integrations → Clearbit." },
  no_email: { kind: "error", message: "This person has no email to look up." },
};

/** The settings form as the API's input: checkboxes, numbers, mapping lines. */
function settingsFromForm(body: unknown): Record<string, unknown> {
  const form = (body ?? {}) as Form;
  const issues: FieldIssue[] = [];
  const out: Record<string, unknown> = { enabled: form.enabled === "true" };
  for (const f of CHECK_FIELDS) out[f.name] = form[f.name] === "true";
  for (const f of URL_FIELDS) out[f.name] = str(form[f.name]).trim();
  for (const f of NUMBER_FIELDS) {
    const v = str(form[f.name]).trim();
    if (/^\d{1,9}$/.test(v)) out[f.name] = Number(v);
    else issues.push({ field: f.name, message: "must be a whole number" });
  }
  const key = str(form.api_key).trim();
  if (key) out.api_key = key;
  for (const name of ["user_mappings", "organization_mappings"]) {
    const parsed = parseMappings(str(form[name]));
    if (Array.isArray(parsed)) out[name] = parsed;
    else issues.push({ field: name, message: parsed.message });
  }
  if (issues.length) throw new ValidationError(issues);
  return out;
}

/** Issues on a mapping row (user_mappings.3.source) are shown on the table's textarea. */
function settingsErrors(err: unknown): Record<string, string> {
  if (!(err instanceof AppError) || !Array.isArray(err.details)) return formErrors(err);
  const out: Record<string, string> = {};
  for (const i of err.details as FieldIssue[]) {
    const [field, row] = i.field.split(".");
    const key = field || "form";
    out[key] ??= row !== undefined ? `line ${Number(row) + 1}: ${i.message}` : i.message;
  }
  return out;
}

function conditionsFromText(text: string): Condition[] {
  const out: Condition[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const m = /^(\S+)\s+(\S+)(?:\s+(.+))?$/.exec(line);
    if (!m || !(OPERATORS as readonly string[]).includes(m[2]!))
      throw new ValidationError([
        {
          field: "conditions",
          message: `line ${i + 1}: write "field operator value" with an operator of: ${OPERATORS.join(", ")}`,
        },
      ]);
    const raw = m[3]?.trim();
    const value =
      raw === undefined
        ? null
        : raw === "true"
          ? true
          : raw === "false"
            ? false
            : /^-?\d+(\.\d+)?$/.test(raw)
              ? Number(raw)
              : raw.replace(/^"(.*)"$/, "$1");
    out.push({ field: m[1]!, op: m[2] as Condition["op"], value });
  }
  return out;
}

const conditionText = (c: Condition) =>
  [c.field, c.op, c.value === null || c.value === undefined ? "" : String(c.value)].join(" ").trim();

/**
 * The person page's Clearbit section: when Clearbit last checked, why a lookup has no answer (a failed call says
 * so, never "under way" forever), and the answer's properties by Heap's readable names.
 */
export async function personEnrichmentView(ctx: AppContext, clearbit: ClearbitEnrichment, userId: number) {
  const stored = await clearbit.storedAnswer(ctx.db, userId);
  const user = await getUserRow(ctx.db, userId);
  const lookup = user.email ? await clearbit.lookup(ctx.db, user.email) : undefined;
  const failure =
    lookup?.status === "pending" && lookup.error
      ? `Lookup failed: ${lookup.error}. It is tried again; the integration log has each attempt.`
      : lookup?.status === "invalid"
        ? `Clearbit refused this email: ${lookup.error ?? "invalid"}.`
        : null;
  const checked = stored
    ? `${humanName("date_last_checked")}: ${formatTime(stored.checkedAt)}` +
      (!stored.person && !stored.company ? " — unknown to Clearbit" : "")
    : null;
  const state =
    [failure, checked].filter(Boolean).join(" ") ||
    (lookup?.status === "pending"
      ? "Lookup under way."
      : (await clearbit.active())
        ? "Not enriched yet."
        : "Clearbit is not enabled.");
  const rows = stored
    ? [
        { path: "date_last_checked", name: humanName("date_last_checked"), value: formatTime(stored.checkedAt) },
        ...answerRows({ person: stored.person, company: stored.company }),
      ]
    : [];
  return { userId, state, failed: failure !== null, rows, properties: rows.length - 1 };
}

/** The newest requests shown on the Clearbit page; the whole log, paged and filtered, is the HTTP log's. */
const RECENT_LOG_ENTRIES = 10;

/** Integrations → Clearbit (settings, status, mappings, backfill, log), audiences, and "enrich now". */
export function integrationPages(ctx: AppContext, { clearbit, audiences }: Enrichment) {
  const progressView = async () => {
    const p = await clearbit.backfillProgress();
    return p ? { ...p, startedAt: formatTime(new Date(p.started_at)) } : null;
  };

  const clearbitPage = async (
    request: Request,
    session: SessionInfo,
    extra: { form?: Form; errors?: Record<string, string>; status?: number } = {},
  ) => {
    const settings = await clearbit.settings();
    const s = settingsJson(settings);
    const form: Form = extra.form ?? {
      ...s,
      user_mappings: formatMappings(s.user_mappings),
      organization_mappings: formatMappings(s.organization_mappings),
    };
    const errors = extra.errors ?? {};
    const log = (await ctx.delivery.listHttpLog({ facility: "clearbit", limit: RECENT_LOG_ENTRIES })).map((e) => ({
      id: e.id,
      at: formatTime(e.createdAt),
      method: e.method,
      url: e.url,
      auth: e.requestHeaders.authorization ?? e.requestHeaders.Authorization ?? "—",
      status: e.responseStatus ?? e.error ?? "—",
      summary: e.error ?? (e.responseBody ?? "").slice(0, 80),
      body: e.responseBody ?? e.error ?? "",
    }));
    const userTargets = [...MAPPABLE_USER_FIELDS, ...(await listCustomFields(ctx.db, "user")).map((f) => f.name)].join(
      ", ",
    );
    const organizationTargets = [
      ...MAPPABLE_ORGANIZATION_FIELDS,
      ...(await listCustomFields(ctx.db, "organization")).map((f) => f.name),
    ].join(", ");
    const data = {
      status: await clearbit.status(),
      form,
      errors,
      urlFields: URL_FIELDS.map((f) => ({ ...f, value: str(form[f.name]), error: errors[f.name] ?? null })),
      numberFields: NUMBER_FIELDS.map((f) => ({
        ...f,
        value: String(form[f.name] ?? ""),
        error: errors[f.name] ?? null,
      })),
      checkFields: CHECK_FIELDS.map((f) => ({ ...f, checked: form[f.name] === true || form[f.name] === "true" })),
      mappingRows: [
        ...settings.user_mappings.map((m) => ({ ...m, target: `person: ${m.target}` })),
        ...settings.organization_mappings.map((m) => ({ ...m, target: `organization: ${m.target}` })),
      ].map((m) => ({ ...m, human: humanName(m.source) })),
      userTargets,
      organizationTargets,
      backfillEvery: settings.backfill_every_hours,
      progress: await progressView(),
      log,
      results: await clearbit.resultMode(),
    };
    return adminPage(ctx, request, session, "integration-clearbit", data, {
      title: "Clearbit",
      section: "integrations",
      status: extra.status,
    });
  };

  const audiencesPage = async (
    request: Request,
    session: SessionInfo,
    extra: { form?: Form; errors?: Record<string, string>; status?: number } = {},
  ) => {
    const data = {
      audiences: await Promise.all(
        (await audiences.list()).map(async (x) => ({
          id: x.id,
          name: x.name,
          key: x.key,
          member_count: await audiences.memberCount(x.id),
          conditionText: (x.conditions as Condition[]).map(conditionText).join(x.match === "any" ? " OR " : " AND "),
        })),
      ),
      form: extra.form ?? {},
      matchAll: (extra.form?.match ?? "all") === "all",
      errors: extra.errors ?? {},
      operators: OPERATORS.join(", "),
    };
    return adminPage(ctx, request, session, "audiences", data, {
      title: "Audiences",
      section: "integrations",
      status: extra.status,
    });
  };

  return new Elysia()
    .get(
      "/integrations",
      signedInPage(ctx, "integrations", { title: "Integrations", section: "integrations" }, async () => ({
        status: await clearbit.status(),
      })),
    )
    .get("/integrations/clearbit", async ({ request }) => clearbitPage(request, await requireSession(ctx, request)))
    .post("/integrations/clearbit", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      try {
        await clearbit.save(settingsFromForm(body));
        return redirect(request, "/integrations/clearbit", [
          flashCookie(ctx, { kind: "success", message: "Clearbit settings saved." }),
        ]);
      } catch (err) {
        const form = { ...((body ?? {}) as Form), api_key: (await clearbit.settings()).api_key_mask };
        const errors = askSecretsAgain(body, ["api_key"], settingsErrors(err));
        return clearbitPage(request, session, { form, errors, status: errorStatus(err) });
      }
    })
    .post("/integrations/clearbit/backfill", async ({ request }) => {
      const session = await requireSession(ctx, request);
      if (!(await clearbit.active())) {
        if (isHtmx(request))
          return html(
            '<div id="backfill-progress">' +
              '<p class="field-error" role="alert">Enable Clearbit and save an API key first.</p>' +
              "</div>",
            { status: 409 },
          );
        return redirect(request, "/integrations/clearbit", [
          flashCookie(ctx, { kind: "error", message: "Enable Clearbit and save an API key first." }),
        ]);
      }
      await clearbit.startBackfill((err) => ctx.log.error("clearbit backfill failed", { error: String(err) }));
      if (isHtmx(request))
        return html(renderFragment("clearbit-backfill", { progress: await progressView() }, session.csrfToken));
      return redirect(request, "/integrations/clearbit", [
        flashCookie(ctx, { kind: "success", message: "Backfill started." }),
      ]);
    })
    .get("/integrations/clearbit/backfill", async ({ request }) => {
      const session = await requireSession(ctx, request);
      return html(renderFragment("clearbit-backfill", { progress: await progressView() }, session.csrfToken));
    })
    .post("/people/:id/enrich", async ({ request, params }) => {
      await requireSession(ctx, request);
      const id = pathId(params.id, "audience");
      const result = await clearbit.enrichNow(id);
      return redirect(request, `/people/${id}`, [flashCookie(ctx, PLAN_MESSAGES[result])]);
    })
    .get("/integrations/audiences", async ({ request }) => audiencesPage(request, await requireSession(ctx, request)))
    .post("/integrations/audiences", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      const form = (body ?? {}) as Form;
      try {
        const created = await audiences.create({
          name: str(form.name),
          match: str(form.match) || "all",
          conditions: conditionsFromText(str(form.conditions)),
        });
        return redirect(request, "/integrations/audiences", [
          flashCookie(ctx, {
            kind: "success",
            message: `Audience ${created.name} created: people now carry ${created.key}.`,
          }),
        ]);
      } catch (err) {
        return audiencesPage(request, session, { form, errors: formErrors(err), status: errorStatus(err) });
      }
    })
    .post("/integrations/audiences/:id/delete", async ({ request, params }) => {
      await requireSession(ctx, request);
      await audiences.delete(pathId(params.id, "audience"));
      return redirect(request, "/integrations/audiences", [
        flashCookie(ctx, { kind: "success", message: "Audience deleted." }),
      ]);
    });
}
