import { and, asc, count, eq, inArray, lt } from "drizzle-orm";
import { pageState } from "../../db/schema";
import type { AppContext } from "../context";
import { parseCookies, type Cookie } from "../responses";

/**
 * A form posted after its admin's session ended is not saved; what was typed in it waits in the
 * database (page_state, like shown-once.ts, so any node can fill it in), keyed to a random id in an
 * HttpOnly cookie, so that the form page opened after signing in again can fill it in once. Secrets,
 * passwords and the CSRF token are never kept: a secret is never sent back to a browser. Entries are
 * small (a body without a session is at most 64 KB, see body-gate.ts), few and short-lived.
 */
export type KeptForm = { action: string; fields: Record<string, string[]> };

export const SESSION_EXPIRED_NOTICE =
  "Your session expired; nothing was saved. Sign in and your changes will be filled in again.";
const COOKIE = "sb_kept";
const TTL_MS = 10 * 60_000;
const MAX_ENTRIES = 500;
/** Field names never kept: credentials of any kind. */
const SECRET_NAME = /pass|secret|token|key|csrf|authorization/i;

const keyOf = (id: string) => `kept_form:${id}`;

/** The typed text fields of a form body, without secrets and files. */
function keptFields(body: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!body || typeof body !== "object") return out;
  for (const [name, v] of Object.entries(body as Record<string, unknown>)) {
    if (SECRET_NAME.test(name)) continue;
    const strings = (Array.isArray(v) ? v : [v]).filter((s): s is string => typeof s === "string");
    if (strings.length) out[name] = strings;
  }
  return out;
}

/**
 * Keeps the form `body` posted to `action` for the next visit to `page` (the form's page); returns
 * the cookie naming it, or none when nothing worth keeping was typed.
 */
export async function keepForm(ctx: AppContext, page: string, action: string, body: unknown): Promise<Cookie[]> {
  const fields = keptFields(body);
  if (!Object.keys(fields).length) return [];
  const now = Date.now();
  const id = crypto.randomUUID();
  const data = JSON.stringify({ action, fields } satisfies KeptForm);
  await ctx.db.transaction(async (tx) => {
    const kind = eq(pageState.kind, "kept_form");
    await tx.delete(pageState).where(and(kind, lt(pageState.expiresAt, new Date(now))));
    // Full (many abandoned forms): the oldest go first.
    const [{ kept } = { kept: 0 }] = await tx.select({ kept: count() }).from(pageState).where(kind);
    if (kept >= MAX_ENTRIES) {
      const oldest = tx
        .select({ key: pageState.key })
        .from(pageState)
        .where(kind)
        .orderBy(asc(pageState.expiresAt))
        .limit(kept - MAX_ENTRIES + 1);
      await tx.delete(pageState).where(inArray(pageState.key, oldest));
    }
    await tx
      .insert(pageState)
      .values({ key: keyOf(id), kind: "kept_form", page, data, expiresAt: new Date(now + TTL_MS) });
  });
  return [{ name: COOKIE, value: id, maxAge: TTL_MS / 1000, secure: ctx.config.secureCookies }];
}

/** The form kept for this browser at this page (removed as it is taken), and the cookie that clears it. */
export async function takeKeptForm(
  ctx: AppContext,
  request: Request,
  page: string,
): Promise<{ form: KeptForm | null; cookies: Cookie[] }> {
  const id = parseCookies(request.headers.get("cookie"))[COOKIE];
  if (!id) return { form: null, cookies: [] };
  const key = eq(pageState.key, keyOf(id));
  const [kept] = await ctx.db.select({ page: pageState.page }).from(pageState).where(key).limit(1);
  if (kept && kept.page !== page) return { form: null, cookies: [] };
  const cookies = [{ name: COOKIE, value: "", maxAge: 0, secure: ctx.config.secureCookies }];
  if (!kept) return { form: null, cookies };
  const [taken] = await ctx.db.transaction(async (tx) =>
    tx.delete(pageState).where(key).returning({ data: pageState.data, expiresAt: pageState.expiresAt }),
  );
  if (!taken || taken.expiresAt.getTime() < Date.now()) return { form: null, cookies };
  return { form: JSON.parse(taken.data) as KeptForm, cookies };
}

/**
 * The page a form posted to `request` was on (its same-origin Referer), where the admin returns after
 * signing in; null when unknown.
 */
export function formPageOf(ctx: AppContext, request: Request): string | null {
  const referer = request.headers.get("referer");
  if (!referer) return null;
  try {
    const from = new URL(referer);
    const ours = from.origin === new URL(request.url).origin || from.origin === ctx.config.baseUrl;
    return ours ? from.pathname + from.search : null;
  } catch {
    return null;
  }
}

type FieldView = {
  name: string;
  value: string;
  checked: boolean;
  isCheckbox: boolean;
  choices: { value: string; selected: boolean }[];
};

/**
 * Fills the kept values into the page's form views (formView() in forms.ts) posting to the kept action,
 * so the form comes back filled in without JavaScript too; other forms are filled in by /assets/forms.js.
 */
export function fillKeptForm(data: unknown, kept: KeptForm, depth = 0): void {
  if (!data || typeof data !== "object" || depth > 4) return;
  const view = data as { action?: unknown; fields?: unknown; customFields?: unknown };
  if (view.action === kept.action && Array.isArray(view.fields)) {
    for (const f of [...view.fields, ...(Array.isArray(view.customFields) ? view.customFields : [])] as FieldView[]) {
      const value = kept.fields[f.name]?.at(-1);
      if (f.isCheckbox) f.checked = value === "true" || value === "on" || value === "1";
      else if (value !== undefined) {
        f.value = value;
        for (const c of f.choices) c.selected = c.value === value;
      }
    }
    return;
  }
  for (const child of Object.values(data)) fillKeptForm(child, kept, depth + 1);
}
