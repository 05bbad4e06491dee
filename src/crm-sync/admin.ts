import { scriptResponse } from "../http/assets";
import { Elysia } from "elysia";
import Mustache from "mustache";
import {
  createSync,
  deleteSync,
  getSync,
  listSyncs,
  syncAsInput,
  updateSync,
  OPERATIONS,
  type CrmSync,
} from "./config";
import { listSyncLog, type LogEntry } from "./logs";
import type { CrmSyncService } from "./service";
import { listOrganizations } from "../domain/organizations";
import { describeUsers } from "../domain/users";
import { personName } from "../http/admin/present";
import { AppError } from "../errors";
import { fieldErrors, formatTime, renderFragment, type Flash } from "../views";
import { CRM_SYNC_SCRIPT } from "./script";
import { pathId } from "../http/params";
import { flashCookie, requireSession } from "../http/auth";
import type { AppContext } from "../http/context";
import { selfTargetCheck } from "../http/addresses";
import { html, redirect } from "../http/responses";
import { askSecretsAgain, headerField, headerLines, parseHeaderLines } from "../http/admin/forms";
import { adminPage } from "../http/admin/render";

const TABS = ["create", "update", "delete", "logs"] as const;
type Tab = (typeof TABS)[number];

const str = (body: unknown, name: string) => {
  const v = ((body ?? {}) as Record<string, unknown>)[name];
  return typeof v === "string" ? v : undefined;
};

/** The edit form's flat fields → the API's input (one validation path for UI and API). */
function formToInput(body: unknown): Record<string, unknown> {
  const f = (n: string) => str(body, n) ?? "";
  const on = (n: string) => str(body, n) !== undefined;
  const op = (name: string) => ({
    method: f(`${name}_method`) || undefined,
    url: f(`${name}_url`),
    headers: f(`${name}_headers`),
    data: f(`${name}_data`),
    tls_verify: on(`${name}_tls_verify`),
    timeout: /^\d+$/.test(f(`${name}_timeout`))
      ? Number(f(`${name}_timeout`))
      : f(`${name}_timeout`) === ""
        ? 15
        : Number.NaN,
  });
  const type = f("auth_type") || "none";
  return {
    name: f("name"),
    enabled: on("enabled"),
    auth: {
      type,
      username: f("auth_username") || undefined,
      password: f("auth_password") || undefined,
      token: f("auth_token") || undefined,
    },
    secret_headers: parseHeaderLines(f("secret_headers")),
    allow_self: on("allow_self"),
    filter: {
      role: f("filter_role") || null,
      organization_id: /^\d+$/.test(f("filter_organization_id")) ? Number(f("filter_organization_id")) : null,
    },
    create: { ...op("create"), unique_id_path: f("unique_id_path"), create_only: on("create_only") },
    update: { ...op("update"), enabled: on("update_enabled") },
    delete: { ...op("delete"), enabled: on("delete_enabled") },
  };
}

/** API field names ("create.url") → form field names ("create_url") for the templates. */
function issuesToErrors(issues: { field: string; message: string }[]): Record<string, string> {
  return fieldErrors(
    issues.map((i) => ({
      ...i,
      field: i.field === "create.unique_id_path" ? "unique_id_path" : headerField(i.field).replace(/\./g, "_"),
    })),
  );
}

/** The form's secrets: typed again after a failed save, never sent back to the browser. */
const SECRET_FIELDS = ["auth_password", "auth_token"];

function formErrors(err: unknown): Record<string, string> {
  if (err instanceof AppError && Array.isArray(err.details))
    return issuesToErrors(err.details as { field: string; message: string }[]);
  throw err;
}

function formOf(input: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: input.name,
    enabled: input.enabled,
    auth_username: input.auth?.username ?? "",
    secret_headers: headerLines(input.secret_headers ?? {}),
    allow_self: input.allow_self === true,
    unique_id_path: input.create?.unique_id_path ?? "",
    create_only: input.create?.create_only === true,
    filter_organization_id: input.filter?.organization_id ?? "",
    [`auth_${input.auth?.type ?? "none"}`]: true,
    [`role_${input.filter?.role ?? "any"}`]: true,
  };
  for (const name of OPERATIONS) {
    const o = input[name] ?? {};
    Object.assign(out, {
      [`${name}_enabled`]: name === "create" || o.enabled,
      [`${name}_url`]: o.url ?? "",
      [`${name}_headers`]: o.headers ?? "",
      [`${name}_data`]: o.data ?? "",
      [`${name}_tls_verify`]: o.tls_verify !== false,
      [`${name}_timeout`]: Number.isNaN(o.timeout) ? "" : (o.timeout ?? 15),
      [`${name}_method_${o.method ?? (name === "create" ? "POST" : name === "update" ? "PUT" : "DELETE")}`]: true,
    });
  }
  return out;
}

/** A log entry for the templates; a failed call offers Retry until it has been retried. */
const logRowOf = (delivery: AppContext["delivery"]) => async (e: LogEntry) => {
  const call = e.kind === "call" ? e : null;
  const status = call?.response?.status ?? null;
  const failed = call?.job_status === "failed" && call.job_id !== null;
  const retriedAs = failed ? await delivery.latestRedelivery(call.job_id!) : null;
  return {
    ...e,
    at: formatTime(new Date(e.at)),
    skipped: !call,
    ok: !!call && !call.error && status !== null && status >= 200 && status < 300,
    retryable: failed && retriedAs === null,
    retriedAs,
    requestHeaders: call ? JSON.stringify(call.request.headers, null, 2) : "",
    responseHeaders: call?.response?.headers ? JSON.stringify(call.response.headers, null, 2) : "",
  };
};

/** The "sync all" progress for crm-bulk.mustache: polled until every call of the run has finished. */
function bulkView(syncId: number, bulk: { total: number; done: number; failed: number; startedAt: string } | null) {
  return {
    syncId,
    bulk: bulk && {
      ...bulk,
      startedAtUtc: formatTime(new Date(bulk.startedAt)),
      percent: bulk.total ? Math.round((100 * bulk.done) / bulk.total) : 100,
      finished: bulk.done >= bulk.total,
    },
  };
}

/** The CRM Sync pages: list, a sync's four tabs (create, update, delete users; logs), a person's history. */
export function crmSyncPages(ctx: AppContext, crm: CrmSyncService) {
  const deps = { db: ctx.db, secrets: ctx.secrets, delivery: ctx.delivery, selfTarget: selfTargetCheck(ctx) };
  const id = (v: string) => pathId(v, "CRM sync");
  const logRow = logRowOf(ctx.delivery);

  const editPage = async (
    request: Request,
    sync: CrmSync | null,
    extra: {
      form?: Record<string, unknown>;
      errors?: Record<string, string>;
      preview?: unknown;
      previewPerson?: { id: number; name: string };
      tab?: Tab;
    } = {},
    status = 200,
  ) => {
    const session = await requireSession(ctx, request);
    const url = new URL(request.url);
    const tab: Tab =
      extra.tab ??
      ((TABS as readonly string[]).includes(url.searchParams.get("tab") ?? "")
        ? (url.searchParams.get("tab") as Tab)
        : "create");
    const form =
      extra.form ??
      formOf(
        sync
          ? syncAsInput(sync)
          : {
              enabled: true,
              create: {
                tls_verify: true,
                timeout: 15,
                data:
                  "{\n" +
                  '  "first_name": "{{ person.first_name }}",\n' +
                  '  "last_name": "{{ person.last_name }}",\n' +
                  '  "email": "{{ person.email }}"\n' +
                  "}",
              },
              update: { tls_verify: true, timeout: 15 },
              delete: { tls_verify: true, timeout: 15 },
            },
      );
    const data: Record<string, unknown> = {
      sync: sync ? { id: sync.id, name: sync.name, secretSet: Boolean(sync.authSecret) } : null,
      isNew: !sync,
      action: sync ? `/crm-sync/${sync.id}` : "/crm-sync",
      form,
      errors: extra.errors ?? {},
      hasErrors: Boolean(extra.errors && Object.keys(extra.errors).length),
      tabs: TABS.map((t) => ({
        id: t,
        label: { create: "Create users", update: "Update users", delete: "Delete users", logs: "Logs" }[t],
        active: t === tab,
        // On the form, its three sections are switched in the page (nothing typed is lost); Logs is a page.
        inForm: tab !== "logs" && t !== "logs",
        href: sync ? `/crm-sync/${sync.id}?tab=${t}` : `/crm-sync/new?tab=${t}`,
      })).filter((t) => sync || t.id !== "logs"),
      tab: { [tab]: true },
      hidden: { create: tab !== "create", update: tab !== "update", delete: tab !== "delete" },
      organizations: (await listOrganizations(ctx.db, { limit: 100 })).data.map((o) => ({
        ...o,
        selected: o.id === Number(form.filter_organization_id),
      })),
      preview: extra.preview ?? null,
      previewPicker: {
        name: "preview_user_id",
        id: "preview_user_id",
        label: "Preview for person",
        source: "people",
        value: extra.previewPerson?.id ?? "",
        pickLabel: extra.previewPerson?.name ?? "",
        placeholder: "A sample person, or search…",
        invalid: "false",
      },
    };
    if (sync) {
      const state = await crm.syncState(sync);
      data.state = { ...state, ...bulkView(sync.id, state.bulk) };
      if (tab === "logs") {
        const q = Object.fromEntries(url.searchParams);
        delete q.tab;
        const filter = {
          user_id: q.user_id || undefined,
          operation: q.operation || undefined,
          outcome: q.outcome || undefined,
          cursor: q.cursor || undefined,
        };
        let log: Awaited<ReturnType<typeof listSyncLog>>;
        try {
          log = await listSyncLog(ctx.db, ctx.delivery, sync.id, filter);
        } catch {
          log = await listSyncLog(ctx.db, ctx.delivery, sync.id, {});
        }
        data.log = await Promise.all(log.data.map(logRow));
        data.filter = {
          user_id: q.user_id ?? "",
          [`op_${q.operation || "any"}`]: true,
          [`outcome_${q.outcome || "any"}`]: true,
        };
        data.nextPage =
          log.next_cursor !== null
            ? `/crm-sync/${sync.id}?${new URLSearchParams({ ...q, tab: "logs", cursor: log.next_cursor })}`
            : null;
      }
    }
    return adminPage(ctx, request, session, "crm-sync-edit", data, {
      title: sync ? sync.name : "New CRM sync",
      section: "crm-sync",
      status,
    });
  };

  return new Elysia()
    .get("/crm-sync", async ({ request }) => {
      const session = await requireSession(ctx, request);
      const syncs = await Promise.all(
        (await listSyncs(ctx.db)).map(async (s) => {
          const st = await crm.syncState(s);
          return {
            id: s.id,
            name: s.name,
            enabled: s.enabled,
            linked: st.people.with_crm_id,
            queued: st.queued_calls,
            lastError: st.delivery?.last_error ?? null,
            paused: st.delivery?.paused ?? false,
          };
        }),
      );
      return adminPage(ctx, request, session, "crm-sync", { syncs }, { title: "CRM Sync", section: "crm-sync" });
    })
    .get("/crm-sync/new", ({ request }) => editPage(request, null))
    .post("/crm-sync", async ({ request, body }) => {
      await requireSession(ctx, request);
      const input = formToInput(body);
      try {
        const s = await createSync(deps, input);
        return redirect(request, `/crm-sync/${s.id}`, [
          flashCookie(ctx, { kind: "success", message: `Sync "${s.name}" created.` }),
        ]);
      } catch (err) {
        const errors = askSecretsAgain(body, SECRET_FIELDS, formErrors(err));
        return editPage(request, null, { form: formOf(input), errors }, 422);
      }
    })
    .get("/crm-sync/:id", async ({ request, params }) => editPage(request, await getSync(ctx.db, id(params.id))))
    .post("/crm-sync/:id", async ({ request, params, body }) => {
      await requireSession(ctx, request);
      const sync = await getSync(ctx.db, id(params.id));
      const input = formToInput(body);
      const tab = (TABS as readonly string[]).includes(str(body, "tab") ?? "") ? (str(body, "tab") as Tab) : "create";
      try {
        await updateSync(deps, sync.id, input);
        return redirect(request, `/crm-sync/${sync.id}?tab=${tab}`, [
          flashCookie(ctx, { kind: "success", message: "Sync saved." }),
        ]);
      } catch (err) {
        const errors = askSecretsAgain(body, SECRET_FIELDS, formErrors(err));
        return editPage(request, sync, { form: formOf(input), errors, tab }, 422);
      }
    })
    .post("/crm-sync/:id/preview", async ({ request, params, body }) => {
      await requireSession(ctx, request);
      const sync = await getSync(ctx.db, id(params.id));
      const input = formToInput(body);
      const userId = /^\d+$/.test(str(body, "preview_user_id") ?? "")
        ? Number(str(body, "preview_user_id"))
        : undefined;
      const tab = (TABS as readonly string[]).includes(str(body, "tab") ?? "") ? (str(body, "tab") as Tab) : "create";
      try {
        const { auth: _auth, ...changes } = input;
        const p = await crm.previewFor(sync.id, changes, userId);
        const person = userId !== undefined ? (await describeUsers(ctx.db, [userId])).get(userId) : undefined;
        const previewPerson = person && { id: person.id, name: personName(person) };
        const requests = Object.entries(p.requests).map(([op, r]: [string, any]) => ({
          op,
          ...r,
          headersText: JSON.stringify(r.headers, null, 2),
        }));
        return editPage(request, sync, {
          form: formOf(input),
          errors: issuesToErrors(p.errors),
          preview: { requests, person: previewPerson?.name ?? "a sample person", errors: p.errors },
          previewPerson,
          tab,
        });
      } catch (err) {
        return editPage(request, sync, { form: formOf(input), errors: formErrors(err), tab }, 422);
      }
    })
    .get("/crm-sync/:id/bulk", async ({ request, params }) => {
      await requireSession(ctx, request);
      const sync = await getSync(ctx.db, id(params.id));
      return html(renderFragment("crm-bulk", bulkView(sync.id, (await crm.syncState(sync)).bulk)));
    })
    .get("/assets/crm-sync.js", () => scriptResponse(CRM_SYNC_SCRIPT))
    .post("/crm-sync/:id/delete", async ({ request, params }) => {
      await requireSession(ctx, request);
      await deleteSync(deps, id(params.id));
      return redirect(request, "/crm-sync", [flashCookie(ctx, { kind: "success", message: "Sync deleted." })]);
    })
    .post("/crm-sync/:id/sync-all", async ({ request, params }) => {
      await requireSession(ctx, request);
      const c = await crm.planner.syncAll(id(params.id));
      const message = `Sync all queued: ${c.creates} to create, ${c.updates} to update (${c.users} people looked at).`;
      return redirect(request, `/crm-sync/${params.id}`, [flashCookie(ctx, { kind: "success", message })]);
    })
    .post("/crm-sync/:id/logs/:jobId/retry", async ({ request, params }) => {
      await requireSession(ctx, request);
      let flash: Flash;
      try {
        const r = await crm.retryCall(id(params.id), pathId(params.jobId, "call"));
        flash = { kind: "success", message: `Call queued again as job #${r.job_id}.` };
      } catch (err) {
        // Retried already (another tab, a double click): say so where the button was, not as an error page.
        if (!(err instanceof AppError) || err.kind !== "conflict") throw err;
        flash = { kind: "info", message: `Not queued: ${err.message}.` };
      }
      if (request.headers.get("HX-Request"))
        return html(`<span class="muted retried" role="status">${Mustache.escape(flash.message)}</span>`);
      return redirect(request, `/crm-sync/${params.id}?tab=logs`, [flashCookie(ctx, flash)]);
    })
    .get("/crm-sync/:id/users/:userId", async ({ request, params }) => {
      const session = await requireSession(ctx, request);
      const sync = await getSync(ctx.db, id(params.id));
      const h = await crm.userHistory(sync.id, pathId(params.userId, "user"), { limit: 100 });
      const u = (await describeUsers(ctx.db, [h.user_id])).get(h.user_id);
      // A person deleted since is known by their id only.
      const name = u ? personName(u) : `Person #${h.user_id} (deleted)`;
      return adminPage(
        ctx,
        request,
        session,
        "crm-sync-user",
        {
          sync: { id: sync.id, name: sync.name },
          history: { ...h, log: await Promise.all(h.log.data.map(logRow)) },
          person: { name },
        },
        { title: `${sync.name}: ${name}`, section: "crm-sync" },
      );
    })
    .post("/crm-sync/:id/users/:userId/resync", async ({ request, params }) => {
      await requireSession(ctx, request);
      const planned = await crm.planner.resync(id(params.id), pathId(params.userId, "user"));
      const message = {
        create: "A create call is queued.",
        update: "An update call is queued.",
        collapsed: "A call for this person is already queued; it will carry the latest data.",
        none: "Nothing to send: the person is outside this sync's filter.",
      }[planned];
      return redirect(request, `/crm-sync/${params.id}/users/${params.userId}`, [
        flashCookie(ctx, { kind: "info", message }),
      ]);
    });
}
