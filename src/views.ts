import Mustache from "mustache";
import layout from "../views/layout.mustache" with { type: "text" };
import bare from "../views/bare.mustache" with { type: "text" };
import nav from "../views/partials/nav.mustache" with { type: "text" };
import flash from "../views/partials/flash.mustache" with { type: "text" };
import login from "../views/login.mustache" with { type: "text" };
import setup from "../views/setup.mustache" with { type: "text" };
import dashboard from "../views/dashboard/page.mustache" with { type: "text" };
import dashboardLive from "../views/dashboard/live.mustache" with { type: "text" };
import settings from "../views/settings.mustache" with { type: "text" };
import admins from "../views/admins.mustache" with { type: "text" };
import account from "../views/account.mustache" with { type: "text" };
import tokens from "../views/tokens.mustache" with { type: "text" };
import sessions from "../views/sessions.mustache" with { type: "text" };
import tokenCreated from "../views/partials/token-created.mustache" with { type: "text" };
import errorPage from "../views/error.mustache" with { type: "text" };
import list from "../views/list.mustache" with { type: "text" };
import person from "../views/person.mustache" with { type: "text" };
import organization from "../views/organization.mustache" with { type: "text" };
import recordNew from "../views/record-new.mustache" with { type: "text" };
import ticket from "../views/ticket.mustache" with { type: "text" };
import groupsPage from "../views/groups.mustache" with { type: "text" };
import group from "../views/group.mustache" with { type: "text" };
import customFields from "../views/custom-fields.mustache" with { type: "text" };
import customField from "../views/custom-field.mustache" with { type: "text" };
import writeKeys from "../views/write-keys.mustache" with { type: "text" };
import field from "../views/partials/field.mustache" with { type: "text" };
import picker from "../views/partials/picker.mustache" with { type: "text" };
import pickerOptions from "../views/partials/picker-options.mustache" with { type: "text" };
import formErrors from "../views/partials/form-errors.mustache" with { type: "text" };
import listResults from "../views/partials/list-results.mustache" with { type: "text" };
import listRows from "../views/partials/list-rows.mustache" with { type: "text" };
import listState from "../views/partials/list-state.mustache" with { type: "text" };
import recordForm from "../views/partials/record-form.mustache" with { type: "text" };
import recordDetails from "../views/partials/record-details.mustache" with { type: "text" };
import deleteRecord from "../views/partials/delete-record.mustache" with { type: "text" };
import timeline from "../views/partials/timeline.mustache" with { type: "text" };
import articleForm from "../views/partials/article-form.mustache" with { type: "text" };
import writeKeyCreated from "../views/partials/write-key-created.mustache" with { type: "text" };
import csvImport from "../views/csv-import.mustache" with { type: "text" };
import logs from "../views/logs.mustache" with { type: "text" };
import logEntry from "../views/log-entry.mustache" with { type: "text" };
import crmSyncList from "../views/crm-sync.mustache" with { type: "text" };
import crmSyncEdit from "../views/crm-sync-edit.mustache" with { type: "text" };
import crmSyncUser from "../views/crm-sync-user.mustache" with { type: "text" };
import crmOperations from "../views/partials/crm-operations.mustache" with { type: "text" };
import crmLog from "../views/partials/crm-log.mustache" with { type: "text" };
import crmBulk from "../views/partials/crm-bulk.mustache" with { type: "text" };
import webhooks from "../views/webhooks.mustache" with { type: "text" };
import webhookForm from "../views/webhook-form.mustache" with { type: "text" };
import webhookDeliveries from "../views/webhook-deliveries.mustache" with { type: "text" };
import webhookDelivery from "../views/webhook-delivery.mustache" with { type: "text" };
import triggers from "../views/webhooks/triggers.mustache" with { type: "text" };
import triggerForm from "../views/webhooks/trigger-form.mustache" with { type: "text" };
import eventTypes from "../views/webhooks/event-types.mustache" with { type: "text" };
import conditionRow from "../views/webhooks/condition-row.mustache" with { type: "text" };
import triggerPreview from "../views/webhooks/trigger-preview.mustache" with { type: "text" };
import payloadPreview from "../views/partials/payload-preview.mustache" with { type: "text" };
import deliveryDetail from "../views/partials/delivery-detail.mustache" with { type: "text" };
import httpExchange from "../views/partials/http-exchange.mustache" with { type: "text" };
import attemptsChart from "../views/partials/attempts-chart.mustache" with { type: "text" };
import recoveryProgress from "../views/partials/recovery-progress.mustache" with { type: "text" };
import webhookRecover from "../views/webhook-recover.mustache" with { type: "text" };
import webhookRecovery from "../views/webhook-recovery.mustache" with { type: "text" };
import integrations from "../views/integrations.mustache" with { type: "text" };
import integrationClearbit from "../views/integration-clearbit.mustache" with { type: "text" };
import audiencesPage from "../views/audiences.mustache" with { type: "text" };
import clearbitBackfill from "../views/partials/clearbit-backfill.mustache" with { type: "text" };
import personEnrichment from "../views/partials/person-enrichment.mustache" with { type: "text" };

/** Every template, embedded in the binary. Pages render inside a layout. */
const pages = {
  login,
  setup,
  dashboard,
  settings,
  admins,
  account,
  sessions,
  tokens,
  error: errorPage,
  list,
  person,
  organization,
  "record-new": recordNew,
  ticket,
  groups: groupsPage,
  group,
  "custom-fields": customFields,
  "custom-field": customField,
  "write-keys": writeKeys,
  "csv-import": csvImport,
  logs,
  "log-entry": logEntry,
  "crm-sync": crmSyncList,
  "crm-sync-edit": crmSyncEdit,
  "crm-sync-user": crmSyncUser,
  webhooks,
  "webhook-form": webhookForm,
  "webhook-deliveries": webhookDeliveries,
  "webhook-delivery": webhookDelivery,
  "webhook-recover": webhookRecover,
  "webhook-recovery": webhookRecovery,
  triggers,
  "trigger-form": triggerForm,
  "event-types": eventTypes,
  integrations,
  "integration-clearbit": integrationClearbit,
  audiences: audiencesPage,
};
/** Partials: included by pages, and rendered alone as the fragments htmx swaps in. */
const partials = {
  nav,
  flash,
  "token-created": tokenCreated,
  field,
  picker,
  "picker-options": pickerOptions,
  "form-errors": formErrors,
  "list-results": listResults,
  "list-rows": listRows,
  "list-state": listState,
  "record-form": recordForm,
  "record-details": recordDetails,
  "delete-record": deleteRecord,
  timeline,
  "article-form": articleForm,
  "write-key-created": writeKeyCreated,
  "clearbit-backfill": clearbitBackfill,
  "person-enrichment": personEnrichment,
  "crm-operations": crmOperations,
  "crm-log": crmLog,
  "crm-bulk": crmBulk,
  "payload-preview": payloadPreview,
  "condition-row": conditionRow,
  "trigger-preview": triggerPreview,
  "delivery-detail": deliveryDetail,
  "http-exchange": httpExchange,
  "attempts-chart": attemptsChart,
  "recovery-progress": recoveryProgress,
  "dashboard-live": dashboardLive,
};

export type PageName = keyof typeof pages;
export type PartialName = keyof typeof partials;

export type Flash = { kind: "success" | "error" | "info"; message: string };
export type Viewer = { name: string; email: string; csrfToken: string };

/** Sections of the admin UI, in navigation order. Areas later issues fill in are listed but not yet linked. */
const SECTIONS = [
  { id: "dashboard", label: "Dashboard", href: "/" },
  { id: "people", label: "People", href: "/people" },
  { id: "organizations", label: "Organizations", href: "/organizations" },
  { id: "tickets", label: "Tickets", href: "/tickets" },
  { id: "integrations", label: "Integrations", href: "/integrations" },
  { id: "webhooks", label: "Webhooks", href: "/webhooks" },
  { id: "crm-sync", label: "CRM Sync", href: "/crm-sync" },
  { id: "logs", label: "Logs", href: "/logs" },
  { id: "settings", label: "Settings", href: "/settings" },
];

export function renderPage(
  name: PageName,
  data: Record<string, unknown>,
  opts: {
    title: string;
    section?: string;
    viewer?: Viewer | null;
    flash?: Flash | null;
    csrfToken?: string;
    crumbs?: { label: string; href?: string }[] | null;
  },
): string {
  const nav = SECTIONS.map((s) => ({ ...s, active: s.id === opts.section, soon: !s.href }));
  const view = {
    ...data,
    title: opts.title,
    crumbs: opts.crumbs?.length ? opts.crumbs : null,
    viewer: opts.viewer ?? null,
    nav,
    flash: opts.flash ?? null,
    csrfToken: opts.viewer?.csrfToken ?? opts.csrfToken ?? "",
    csrfHeaders: JSON.stringify({ "X-CSRF-Token": opts.viewer?.csrfToken ?? opts.csrfToken ?? "" }),
  };
  return Mustache.render(opts.viewer ? layout : bare, view, { ...partials, content: pages[name] });
}

/** One partial alone, for an htmx swap: the same markup the full page holds at that place. */
export function renderFragment(name: PartialName, data: Record<string, unknown>, csrfToken = ""): string {
  return Mustache.render(partials[name], { ...data, csrfToken }, partials);
}

/** Zod field issues as a map the templates read: errors.email, errors.password ... */
export function fieldErrors(issues: { field: string; message: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of issues) out[i.field || "form"] ??= i.message;
  return out;
}

export function formatTime(d: Date | null | undefined): string {
  return d ? d.toISOString().replace("T", " ").slice(0, 16) + " UTC" : "never";
}
