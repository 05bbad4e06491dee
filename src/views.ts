import Mustache from "mustache";
import layout from "../views/layout.mustache" with { type: "text" };
import bare from "../views/bare.mustache" with { type: "text" };
import nav from "../views/partials/nav.mustache" with { type: "text" };
import flash from "../views/partials/flash.mustache" with { type: "text" };
import login from "../views/login.mustache" with { type: "text" };
import setup from "../views/setup.mustache" with { type: "text" };
import dashboard from "../views/dashboard.mustache" with { type: "text" };
import settings from "../views/settings.mustache" with { type: "text" };
import admins from "../views/admins.mustache" with { type: "text" };
import account from "../views/account.mustache" with { type: "text" };
import tokens from "../views/tokens.mustache" with { type: "text" };
import tokenCreated from "../views/partials/token-created.mustache" with { type: "text" };
import errorPage from "../views/error.mustache" with { type: "text" };
import crmSyncList from "../views/crm-sync.mustache" with { type: "text" };
import crmSyncEdit from "../views/crm-sync-edit.mustache" with { type: "text" };
import crmSyncUser from "../views/crm-sync-user.mustache" with { type: "text" };
import crmOperations from "../views/partials/crm-operations.mustache" with { type: "text" };
import crmLog from "../views/partials/crm-log.mustache" with { type: "text" };

/** Every template, embedded in the binary. Pages render inside a layout. */
const pages = { login, setup, dashboard, settings, admins, account, tokens, error: errorPage, "crm-sync": crmSyncList, "crm-sync-edit": crmSyncEdit, "crm-sync-user": crmSyncUser };
const partials: Record<string, string> = { nav, flash, "token-created": tokenCreated, "crm-operations": crmOperations, "crm-log": crmLog };

export type PageName = keyof typeof pages;

export type Flash = { kind: "success" | "error" | "info"; message: string };
export type Viewer = { name: string; email: string; csrfToken: string };

/** Sections of the admin UI, in navigation order. Areas later issues fill in are listed but not yet linked. */
const SECTIONS = [
  { id: "dashboard", label: "Dashboard", href: "/" },
  { id: "people", label: "People" },
  { id: "organizations", label: "Organizations" },
  { id: "tickets", label: "Tickets" },
  { id: "integrations", label: "Integrations" },
  { id: "webhooks", label: "Webhooks" },
  { id: "crm-sync", label: "CRM Sync", href: "/crm-sync" },
  { id: "logs", label: "Logs" },
  { id: "settings", label: "Settings", href: "/settings" },
];

export function renderPage(
  name: PageName,
  data: Record<string, unknown>,
  opts: { title: string; section?: string; viewer?: Viewer | null; flash?: Flash | null; csrfToken?: string },
): string {
  const nav = SECTIONS.map((s) => ({ ...s, active: s.id === opts.section, soon: !s.href }));
  const view = {
    ...data,
    title: opts.title,
    viewer: opts.viewer ?? null,
    nav,
    flash: opts.flash ?? null,
    csrfToken: opts.viewer?.csrfToken ?? opts.csrfToken ?? "",
    csrfHeaders: JSON.stringify({ "X-CSRF-Token": opts.viewer?.csrfToken ?? opts.csrfToken ?? "" }),
  };
  return Mustache.render(opts.viewer ? layout : bare, view, { ...partials, content: pages[name] });
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
