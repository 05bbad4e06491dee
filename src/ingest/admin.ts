import { pathId } from "../http/params";
import { Elysia } from "elysia";
import { writeKeyStore } from "../domain/credentials";
import type { SessionInfo } from "../domain/sessions";
import { credentialRow } from "../http/admin/present";
import { flashCookie, requireSession } from "../http/auth";
import type { AppContext } from "../http/context";
import { redirect } from "../http/responses";
import { formErrors, isHtmx, queryString } from "../http/admin/forms";
import { adminPage } from "../http/admin/render";
import { showOnce } from "../http/admin/shown-once";

/** Segment write keys (Settings): create (shown once), list with last use, revoke. */
export function writeKeyPages(ctx: AppContext) {
  const page = async (request: Request, session: SessionInfo, data: Record<string, unknown> = {}, status = 200) => {
    const keys = (await writeKeyStore.list(ctx.db)).map(credentialRow);
    return adminPage(
      ctx,
      request,
      session,
      "write-keys",
      { keys, publicUrl: ctx.config.publicUrl, ...data },
      { title: "Write keys", section: "settings", status },
    );
  };

  return new Elysia()
    .get("/write-keys", async ({ request }) => page(request, await requireSession(ctx, request)))
    .post("/write-keys", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      const form = { name: queryString((body as Record<string, unknown> | undefined)?.name) };
      try {
        const { secret, record } = await writeKeyStore.create(ctx.db, form, session.user.id);
        await showOnce(ctx, session, "/write-keys", { created: { name: record.name, key: secret } });
        return redirect(request, "/write-keys");
      } catch (err) {
        return page(request, session, { form, errors: formErrors(err) }, 422);
      }
    })
    .post("/write-keys/:id/revoke", async ({ request, params }) => {
      await requireSession(ctx, request);
      await writeKeyStore.revoke(ctx.db, pathId(params.id, "write key"));
      if (isHtmx(request)) return new Response(null, { status: 200 });
      return redirect(request, "/write-keys", [flashCookie(ctx, { kind: "success", message: "Write key revoked." })]);
    });
}
