import { isPathToken, pathId } from "../params";
import { Elysia } from "elysia";
import { changePassword, createAdmin, listAdmins, removeAdmin } from "../../domain/admins";
import { apiTokenStore } from "../../domain/credentials";
import { listSessions, revokeSession, type SessionInfo } from "../../domain/sessions";
import { AppError } from "../../errors";
import { fieldErrors, formatTime } from "../../views";
import { credentialRow } from "./present";
import { flashCookie, requireSession } from "../auth";
import type { AppContext } from "../context";
import { redirect } from "../responses";
import { askSecretsAgain } from "./forms";
import { adminPage, signedInPage } from "./render";
import { showOnce } from "./shown-once";

type Form = Record<string, unknown>;
/** The named fields of a submitted form (never _csrf or anything else a browser sent along). */
const pick = (body: unknown, names: string[]): Record<string, string> => {
  const form = (body ?? {}) as Form;
  return Object.fromEntries(names.filter((n) => typeof form[n] === "string").map((n) => [n, form[n] as string]));
};

/** Field errors of a failed form, or rethrow what is not about the form's fields. */
function formErrors(err: unknown): Record<string, string> {
  if (err instanceof AppError && Array.isArray(err.details)) return fieldErrors(err.details);
  throw err;
}

/** Settings, administrators, own account and API tokens. */
export function adminPages(ctx: AppContext) {
  const adminsPage = async (request: Request, data: Form = {}, status = 200) => {
    const session = await requireSession(ctx, request);
    const admins = (await listAdmins(ctx.db)).map((a) => ({
      ...a,
      name: [a.firstname, a.lastname].filter(Boolean).join(" ") || "—",
      lastLogin: formatTime(a.lastLogin),
      isSelf: a.id === session.user.id,
    }));
    return adminPage(
      ctx,
      request,
      session,
      "admins",
      { admins, ...data },
      { title: "Administrators", section: "settings", status },
    );
  };

  const tokensPage = async (request: Request, data: Form = {}, status = 200) => {
    const session = await requireSession(ctx, request);
    const tokens = (await apiTokenStore.list(ctx.db)).map(credentialRow);
    return adminPage(
      ctx,
      request,
      session,
      "tokens",
      { tokens, ...data },
      { title: "API tokens", section: "settings", status },
    );
  };

  const sessionsPage = async (request: Request, session: SessionInfo) => {
    const own = (await listSessions(ctx.db, session.user.id)).map((s) => ({
      ...s,
      createdAt: formatTime(s.createdAt),
      lastSeenAt: formatTime(s.lastSeenAt),
      current: s.id === session.id,
    }));
    const limits = { idleMinutes: ctx.config.sessionIdleMinutes, maxHours: ctx.config.sessionMaxHours };
    return adminPage(
      ctx,
      request,
      session,
      "sessions",
      { sessions: own, ...limits },
      { title: "Your sessions", section: "settings" },
    );
  };

  return new Elysia()
    .get("/settings", signedInPage(ctx, "settings", { title: "Settings", section: "settings" }))
    .get("/admins", ({ request }) => adminsPage(request))
    .post("/admins", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      const form = pick(body, ["email", "password", "firstname", "lastname"]);
      try {
        const admin = await createAdmin(ctx.db, ctx.events, form, { id: session.user.id, source: "ui" });
        return redirect(request, "/admins", [
          flashCookie(ctx, { kind: "success", message: `${admin.email} is now an administrator.` }),
        ]);
      } catch (err) {
        const errors = askSecretsAgain(form, ["password"], formErrors(err));
        return adminsPage(request, { form: { ...form, password: "" }, errors }, 422);
      }
    })
    .post("/admins/:id/remove", async ({ request, params }) => {
      const session = await requireSession(ctx, request);
      await removeAdmin(ctx.db, ctx.events, pathId(params.id, "administrator"), { id: session.user.id, source: "ui" });
      if (request.headers.get("HX-Request")) return new Response(null, { status: 200 });
      return redirect(request, "/admins", [flashCookie(ctx, { kind: "success", message: "Administrator removed." })]);
    })
    .get("/account", signedInPage(ctx, "account", { title: "Your account", section: "settings" }))
    .post("/account/password", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      try {
        await changePassword(
          ctx.db,
          ctx.events,
          session.user.id,
          pick(body, ["current_password", "new_password", "confirm_password"]),
          session.id,
        );
        return redirect(request, "/account", [
          flashCookie(ctx, { kind: "success", message: "Password changed. Your other sessions were signed out." }),
        ]);
      } catch (err) {
        return adminPage(
          ctx,
          request,
          session,
          "account",
          { errors: formErrors(err) },
          { title: "Your account", section: "settings", status: 422 },
        );
      }
    })
    .get("/account/sessions", async ({ request }) => sessionsPage(request, await requireSession(ctx, request)))
    .post("/account/sessions/:id/revoke", async ({ request, params }) => {
      const session = await requireSession(ctx, request);
      if (isPathToken(params.id)) await revokeSession(ctx.db, session.user.id, params.id);
      if (request.headers.get("HX-Request")) return new Response(null, { status: 200 });
      return redirect(request, "/account/sessions", [
        flashCookie(ctx, { kind: "success", message: "Session signed out." }),
      ]);
    })
    .get("/tokens", ({ request }) => tokensPage(request))
    .post("/tokens", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      const form = pick(body, ["name"]);
      try {
        const { secret: token, record } = await apiTokenStore.create(ctx.db, form, session.user.id);
        await showOnce(ctx, session, "/tokens", { created: { name: record.name, token } });
        return redirect(request, "/tokens");
      } catch (err) {
        return tokensPage(request, { form, errors: formErrors(err) }, 422);
      }
    })
    .post("/tokens/:id/revoke", async ({ request, params }) => {
      await requireSession(ctx, request);
      await apiTokenStore.revoke(ctx.db, pathId(params.id, "token"));
      if (request.headers.get("HX-Request")) return new Response(null, { status: 200 });
      return redirect(request, "/tokens", [flashCookie(ctx, { kind: "success", message: "Token revoked." })]);
    });
}
