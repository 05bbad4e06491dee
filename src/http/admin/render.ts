import type { SessionInfo } from "../../domain/sessions";
import { renderPage, type PageName } from "../../views";
import { requireSession, takeFlash } from "../auth";
import type { AppContext } from "../context";
import { html, type Cookie } from "../responses";
import { fillKeptForm, takeKeptForm } from "./kept-forms";
import { takeShownOnce } from "./shown-once";
import { breadcrumbsOf, type Crumb } from "./breadcrumbs";

/**
 * A full admin page for a signed-in admin, consuming any flash message left by the last redirect and
 * any secret kept to be shown once on this page (see shown-once.ts) and any form kept while its admin
 * signed in again (see kept-forms.ts).
 */
export async function adminPage(
  ctx: AppContext,
  request: Request,
  session: SessionInfo,
  page: PageName,
  data: Record<string, unknown>,
  opts: { title: string; section?: string; status?: number; cookies?: Cookie[]; crumbs?: Crumb[] },
): Promise<Response> {
  const { flash, cookies } = takeFlash(ctx, request);
  const url = new URL(request.url);
  const once = request.method === "GET" ? await takeShownOnce(ctx, session, url.pathname) : null;
  // A form posted after the session ended is filled in again on its page:
  // form views here, any other form by /assets/forms.js.
  const kept = request.method === "GET" ? await takeKeptForm(ctx, request, url.pathname + url.search) : null;
  if (kept) cookies.push(...kept.cookies);
  if (kept?.form) fillKeptForm(data, kept.form);
  const keptForm = kept?.form ? { action: kept.form.action, fields: JSON.stringify(kept.form.fields) } : null;
  const body = renderPage(
    page,
    { ...data, ...once, keptForm },
    {
      title: opts.title,
      section: opts.section,
      crumbs: opts.crumbs ?? breadcrumbsOf(url.pathname, opts.title),
      viewer: { name: session.user.name, email: session.user.email, csrfToken: session.csrfToken },
      flash,
    },
  );
  return html(body, { status: opts.status, cookies: [...cookies, ...(opts.cookies ?? [])] });
}

/** The GET handler of a page that asks only for a signed-in admin, with what `data` reads when it is shown. */
export const signedInPage =
  (ctx: AppContext, page: PageName, opts: { title: string; section: string }, data = async () => ({})) =>
  async ({ request }: { request: Request }): Promise<Response> =>
    adminPage(ctx, request, await requireSession(ctx, request), page, await data(), opts);
