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
import webhooks from "../views/webhooks.mustache" with { type: "text" };
import webhookForm from "../views/webhook-form.mustache" with { type: "text" };
import webhookDeliveries from "../views/webhook-deliveries.mustache" with { type: "text" };
import webhookDelivery from "../views/webhook-delivery.mustache" with { type: "text" };
import triggers from "../views/triggers.mustache" with { type: "text" };
import triggerForm from "../views/trigger-form.mustache" with { type: "text" };
import payloadPreview from "../views/partials/payload-preview.mustache" with { type: "text" };
import deliveryDetail from "../views/partials/delivery-detail.mustache" with { type: "text" };

/** Every template, embedded in the binary. Pages render inside a layout. */
const pages = {
  login, setup, dashboard, settings, admins, account, tokens, error: errorPage,
  webhooks, "webhook-form": webhookForm, "webhook-deliveries": webhookDeliveries, "webhook-delivery": webhookDelivery, triggers, "trigger-form": triggerForm,
};
const partials: Record<string, string> = { nav, flash, "token-created": tokenCreated, "payload-preview": payloadPreview, "delivery-detail": deliveryDetail };

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
  { id: "webhooks", label: "Webhooks", href: "/webhooks" },
  { id: "crm-sync", label: "CRM Sync" },
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

/** A partial alone, for htmx to swap into the page. */
export function renderFragment(name: "payload-preview" | "delivery-detail", data: Record<string, unknown>): string {
  return Mustache.render(partials[name]!, data, partials);
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
