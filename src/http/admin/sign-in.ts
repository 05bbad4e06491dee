import { Elysia } from "elysia";
import { setupIsOpen } from "../../domain/admin-access";
import { createAdmin, verifyAdminLogin } from "../../domain/admins";
import { createSession, deleteSession } from "../../domain/sessions";
import { AppError, tooManyRequests } from "../../errors";
import { fieldErrors, renderPage } from "../../views";
import { currentSession, flashCookie, preSessionCsrf, sessionCookie, takeFlash } from "../auth";
import { metaOf, type AppContext } from "../context";
import { html, redirect } from "../responses";

type Form = Record<string, unknown>;
const str = (v: unknown) => (typeof v === "string" ? v : "");

/**
 * Only same-site paths are followed after sign-in, never another host: one "/" not followed by "/" or
 * "\", then printable ASCII only. Browsers drop tabs and newlines ("/\t/host" becomes "//host"), and
 * control or non-ASCII characters cannot go into a Location header, so anything else means "/".
 */
const SAFE_PATH = /^\/(?![/\\])[\x21-\x5b\x5d-\x7e]*$/; // 0x5c, the backslash, is left out
function safeNext(value: unknown): string {
  const next = str(value);
  return SAFE_PATH.test(next) ? next : "/";
}

/** First-run setup, sign-in and sign-out. */
export function signInRoutes(ctx: AppContext) {
  const bare = (request: Request, page: "login" | "setup", data: Form, status = 200) => {
    const csrf = preSessionCsrf(ctx, request);
    // The flash left by sign-out is shown here, not on the dashboard after the next sign-in.
    const { flash, cookies: clearFlash } = takeFlash(ctx, request);
    const title = page === "login" ? "Sign in" : "Set up";
    return html(renderPage(page, data, { title, csrfToken: csrf.token, flash }), {
      status,
      cookies: [...csrf.cookies, ...clearFlash],
    });
  };

  const signIn = async (request: Request, userId: number, next = "/") => {
    const meta = metaOf(request);
    const { token } = await createSession(ctx.db, userId, {
      ip: meta.ip,
      userAgent: request.headers.get("user-agent") ?? undefined,
    });
    ctx.log.info("admin signed in", { request_id: meta.id, user_id: userId });
    return redirect(request, next, [sessionCookie(ctx, token)]);
  };

  return new Elysia()
    .get("/setup", async ({ request }) => {
      if (!(await setupIsOpen(ctx.db))) return redirect(request, "/login");
      return bare(request, "setup", {});
    })
    .post("/setup", async ({ request, body }) => {
      const form = (body ?? {}) as Form;
      if (!(await setupIsOpen(ctx.db))) return redirect(request, "/login");
      try {
        const input = {
          email: str(form.email),
          password: str(form.password),
          firstname: str(form.firstname),
          lastname: str(form.lastname),
        };
        const admin = await createAdmin(ctx.db, ctx.events, input, { id: null, source: "ui" }, { onlyIfFirst: true });
        return signIn(request, admin.id);
      } catch (err) {
        if (!(err instanceof AppError) || !Array.isArray(err.details)) throw err;
        return bare(request, "setup", { ...form, password: "", errors: fieldErrors(err.details) }, 422);
      }
    })
    .get("/login", async ({ request, query }) => {
      if (await setupIsOpen(ctx.db)) return redirect(request, "/setup");
      if (await currentSession(ctx, request)) return redirect(request, "/");
      return bare(request, "login", { next: safeNext(query.next) });
    })
    .post("/login", async ({ request, body }) => {
      const form = (body ?? {}) as Form;
      const email = str(form.email).trim().toLowerCase();
      const { id: requestId, ip } = metaOf(request);
      const wait = await ctx.loginThrottle.attempt(ip, email);
      if (wait > 0) {
        ctx.log.warn("sign-in throttled", { request_id: requestId, ip });
        const err = tooManyRequests(`Too many failed sign-ins. Try again in ${Math.ceil(wait / 60)} minutes.`, wait);
        const res = bare(request, "login", { email, next: safeNext(form.next), errors: { form: err.message } }, 429);
        res.headers.set("Retry-After", String(wait));
        return res;
      }
      const admin = await verifyAdminLogin(ctx.db, email, str(form.password));
      if (!admin) {
        ctx.log.warn("sign-in failed", { request_id: requestId, ip });
        return bare(
          request,
          "login",
          { email, next: safeNext(form.next), errors: { form: "Email or password is wrong." } },
          401,
        );
      }
      await ctx.loginThrottle.succeed(ip, email);
      return signIn(request, admin.id, safeNext(form.next));
    })
    .post("/logout", async ({ request }) => {
      const session = await currentSession(ctx, request);
      if (session) await deleteSession(ctx.db, session.id);
      return redirect(request, "/login", [
        sessionCookie(ctx, null),
        flashCookie(ctx, { kind: "info", message: "You are signed out." }),
      ]);
    });
}
