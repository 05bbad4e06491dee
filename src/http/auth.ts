import { apiTokenStore } from "../domain/credentials";
import { resolveSession, type SessionInfo } from "../domain/sessions";
import { forbidden, unauthorized } from "../errors";
import { randomToken, safeEqual } from "../crypto-tokens";
import type { Flash } from "../views";
import type { AppContext } from "./context";
import { parseCookies, redirect, type Cookie } from "./responses";
import { formPageOf, keepForm, SESSION_EXPIRED_NOTICE } from "./admin/kept-forms";

const SESSION_COOKIE = "sb_session";
/**
 * Before sign-in there is no session to hold a CSRF token: the login and setup forms use this cookie (double submit).
 */
const PRE_SESSION_CSRF_COOKIE = "sb_csrf";
const FLASH_COOKIE = "sb_flash";

/**
 * Thrown where a page needs a signed-in admin; the error mapper turns it into a redirect to /login,
 * back to `next` afterwards, setting `cookies` (a notice, a kept form).
 */
export class SignInRequired extends Error {
  constructor(
    readonly next: string | null = null,
    readonly cookies: Cookie[] = [],
  ) {
    super("sign-in required");
  }
}

const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Forms posted before sign-in, checked against the pre-session CSRF cookie. */
export const PRE_SESSION_FORMS = new Set(["/login", "/setup"]);

export async function currentSession(ctx: AppContext, request: Request): Promise<SessionInfo | null> {
  const token = parseCookies(request.headers.get("cookie"))[SESSION_COOKIE];
  return token ? await resolveSession(ctx.db, token, ctx.config.sessionLimits) : null;
}

export async function requireSession(ctx: AppContext, request: Request): Promise<SessionInfo> {
  const session = await currentSession(ctx, request);
  if (!session) throw new SignInRequired();
  return session;
}

export function sessionCookie(ctx: AppContext, token: string | null): Cookie {
  return token === null
    ? { name: SESSION_COOKIE, value: "", maxAge: 0, secure: ctx.config.secureCookies }
    : { name: SESSION_COOKIE, value: token, secure: ctx.config.secureCookies };
}

/** The pre-session CSRF token for this browser, and the cookie to set when it has none yet. */
export function preSessionCsrf(ctx: AppContext, request: Request): { token: string; cookies: Cookie[] } {
  const existing = parseCookies(request.headers.get("cookie"))[PRE_SESSION_CSRF_COOKIE];
  if (existing) return { token: existing, cookies: [] };
  const token = randomToken();
  return { token, cookies: [{ name: PRE_SESSION_CSRF_COOKIE, value: token, secure: ctx.config.secureCookies }] };
}

/**
 * Every state-changing admin request must carry the CSRF token, in the X-CSRF-Token header (htmx)
 * or the _csrf form field. With a session cookie the token is the session's; without one, the
 * pre-session cookie's. A cross-site Origin is refused outright.
 */
export async function checkCsrf(ctx: AppContext, request: Request, body: unknown): Promise<void> {
  if (!UNSAFE_METHODS.has(request.method)) return;
  const origin = request.headers.get("origin");
  if (origin && origin !== "null" && new URL(request.url).origin !== origin && ctx.config.baseUrl !== origin) {
    throw forbidden("cross-site request refused");
  }
  const sent =
    request.headers.get("x-csrf-token") ??
    (body && typeof body === "object" ? (body as Record<string, unknown>)._csrf : undefined);
  const cookies = parseCookies(request.headers.get("cookie"));
  const session = cookies[SESSION_COOKIE] ? await currentSession(ctx, request) : null;
  // A session that ended (idle, signed out elsewhere) sends the admin to sign in again rather than
  // to a CSRF error: nothing is saved, what they typed is kept to be filled in again afterwards.
  const path = new URL(request.url).pathname;
  if (cookies[SESSION_COOKIE] && !session && !PRE_SESSION_FORMS.has(path))
    throw await sessionExpired(ctx, request, body);
  const expected = session?.csrfToken ?? cookies[PRE_SESSION_CSRF_COOKIE];
  if (typeof sent !== "string" || !expected || !safeEqual(sent, expected)) {
    throw forbidden("missing or invalid CSRF token; reload the page and try again");
  }
}

/** Where a form posted after its session ended goes: to sign in, told so, its typed fields kept for its page. */
export async function sessionExpired(ctx: AppContext, request: Request, body: unknown): Promise<SignInRequired> {
  const page = formPageOf(ctx, request);
  const kept = page ? await keepForm(ctx, page, new URL(request.url).pathname, body) : [];
  const notice = kept.length ? SESSION_EXPIRED_NOTICE : "Your session expired; nothing was saved. Sign in again.";
  return new SignInRequired(page, [...kept, flashCookie(ctx, { kind: "info", message: notice })]);
}

/** The answer to a SignInRequired: to /login, back to its page (or a GET's own) after signing in. */
export function signInRedirect(request: Request, err: SignInRequired): Response {
  const url = new URL(request.url);
  const next = err.next ?? (request.method === "GET" ? url.pathname + url.search : null);
  return redirect(request, next ? `/login?next=${encodeURIComponent(next)}` : "/login", err.cookies);
}

/** True when the request carries a session cookie, live or not. */
export const hasSessionCookie = (request: Request) => !!parseCookies(request.headers.get("cookie"))[SESSION_COOKIE];

export async function requireApiToken(
  ctx: AppContext,
  request: Request,
): Promise<{ id: number; name: string; actorId: number | null }> {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw unauthorized("send an API token as Authorization: Bearer <token>");
  const token = await apiTokenStore.authenticate(ctx.db, match[1]!);
  if (!token) throw unauthorized("the API token is unknown or revoked");
  return token;
}

export function flashCookie(ctx: AppContext, flash: Flash): Cookie {
  return { name: FLASH_COOKIE, value: JSON.stringify(flash), maxAge: 60, secure: ctx.config.secureCookies };
}

/** The flash message left by the previous request, and the cookie that clears it. */
export function takeFlash(ctx: AppContext, request: Request): { flash: Flash | null; cookies: Cookie[] } {
  const raw = parseCookies(request.headers.get("cookie"))[FLASH_COOKIE];
  if (!raw) return { flash: null, cookies: [] };
  const clear = [{ name: FLASH_COOKIE, value: "", maxAge: 0, secure: ctx.config.secureCookies }];
  try {
    const f = JSON.parse(raw) as Flash;
    const kind = ["success", "error", "info"].includes(f.kind) ? f.kind : "info";
    return { flash: { kind, message: String(f.message).slice(0, 300) }, cookies: clear };
  } catch {
    return { flash: null, cookies: clear };
  }
}
