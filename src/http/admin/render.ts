import type { SessionInfo } from "../../domain/sessions";
import { renderPage, type PageName } from "../../views";
import { takeFlash } from "../auth";
import type { AppContext } from "../context";
import { html, type Cookie } from "../responses";
import { takeShownOnce } from "./shown-once";

/**
 * A full admin page for a signed-in admin, consuming any flash message left by the last redirect and
 * any secret kept to be shown once on this page (see shown-once.ts).
 */
export function adminPage(
  ctx: AppContext,
  request: Request,
  session: SessionInfo,
  page: PageName,
  data: Record<string, unknown>,
  opts: { title: string; section?: string; status?: number; cookies?: Cookie[] },
): Response {
  const { flash, cookies } = takeFlash(ctx, request);
  const once = request.method === "GET" ? takeShownOnce(ctx, session, new URL(request.url).pathname) : null;
  const body = renderPage(page, once ? { ...data, ...once } : data, {
    title: opts.title,
    section: opts.section,
    viewer: { name: session.user.name, email: session.user.email, csrfToken: session.csrfToken },
    flash,
  });
  return html(body, { status: opts.status, cookies: [...cookies, ...(opts.cookies ?? [])] });
}
