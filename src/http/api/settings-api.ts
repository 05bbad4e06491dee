import { Elysia } from "elysia";
import { z } from "zod";
import { createAdmin, listAdmins, newAdminSchema, removeAdmin, type Admin } from "../../domain/admins";
import { apiTokenStore, newCredentialSchema, writeKeyStore, type CredentialView } from "../../domain/credentials";
import { conflict } from "../../errors";
import { requireApiToken } from "../auth";
import { pathId } from "../params";
import type { AppContext } from "../context";
import { json } from "../responses";
import { isoTime, list, op } from "./operation";

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const adminJson = (a: Admin) => ({
  id: a.id,
  email: a.email,
  firstname: a.firstname,
  lastname: a.lastname,
  last_login: iso(a.lastLogin),
  created_at: iso(a.createdAt),
});
const tokenJson = (t: CredentialView) => ({
  id: t.id,
  name: t.name,
  prefix: t.prefix,
  created_at: iso(t.createdAt),
  last_used_at: iso(t.lastUsedAt),
  created_by: t.createdBy,
});
/** An API token also names the admin it belongs to, and whether it is suspended (that admin is deactivated). */
const apiTokenJson = (t: CredentialView) => ({
  ...tokenJson(t),
  owner: t.ownerId === null ? null : { id: t.ownerId, email: t.createdBy },
  suspended: t.suspended,
});

const when = isoTime.nullable();
const adminModel = z.strictObject({
  id: z.number().int(),
  email: z.string().nullable(),
  firstname: z.string().nullable(),
  lastname: z.string().nullable(),
  last_login: when,
  created_at: when,
});
const tokenShape = {
  id: z.number().int(),
  name: z.string(),
  prefix: z.string(),
  created_at: when,
  last_used_at: when,
  created_by: z.string().nullable(),
};
const writeKeyModel = z.strictObject(tokenShape);
const apiTokenModel = z.strictObject({
  ...tokenShape,
  owner: z.strictObject({ id: z.number().int(), email: z.string().nullable() }).nullable(),
  suspended: z.boolean(),
});

/** Administrators, API tokens and Segment write keys through the REST API: what the Settings pages do. */
export function settingsApi(ctx: AppContext) {
  return new Elysia()
    .use(adminsApi(ctx))
    .use(
      credentialsApi(ctx, {
        path: "/tokens",
        store: apiTokenStore,
        toJson: apiTokenJson,
        model: apiTokenModel,
        secretName: "token",
        noun: "token",
        summaries: {
          list: "List API tokens",
          create: "Create an API token; the answer shows it once",
          revoke: "Revoke an API token",
        },
      }),
    )
    .use(
      credentialsApi(ctx, {
        path: "/write_keys",
        store: writeKeyStore,
        toJson: tokenJson,
        model: writeKeyModel,
        secretName: "key",
        noun: "write key",
        summaries: {
          list: "List Segment write keys",
          create: "Create a Segment write key; the answer shows it once",
          revoke: "Revoke a write key",
        },
      }),
    );
}

function adminsApi(ctx: AppContext) {
  return new Elysia({ prefix: "/api/v1" })
    .get(
      "/admins",
      async ({ request }) => {
        await requireApiToken(ctx, request);
        return json({ data: (await listAdmins(ctx.db)).map(adminJson) });
      },
      op({ summary: "List administrators", response: list(adminModel) }),
    )
    .post(
      "/admins",
      async ({ request, body }) => {
        const token = await requireApiToken(ctx, request);
        return json(adminJson(await createAdmin(ctx.db, ctx.events, body, { id: token.actorId, source: "api" })), 201);
      },
      op({ summary: "Create an administrator", body: newAdminSchema, response: adminModel, status: 201 }),
    )
    .delete(
      "/admins/:id",
      async ({ request, params }) => {
        const token = await requireApiToken(ctx, request);
        if (token.actorId === null) throw conflict("this token has no owner to act as; create a token as an admin");
        await removeAdmin(ctx.db, ctx.events, pathId(params.id, "administrator"), { id: token.actorId, source: "api" });
        return new Response(null, { status: 204 });
      },
      op({ summary: "Remove an administrator (never the last active one)", response: null }),
    );
}

/** List, create (the answer shows the secret once, as `secretName`) and revoke one kind of credential. */
function credentialsApi(
  ctx: AppContext,
  c: {
    path: string;
    store: typeof apiTokenStore;
    toJson: (t: CredentialView) => Record<string, unknown>;
    model: z.ZodObject;
    secretName: string;
    /** What a bad path id is called in the error. */
    noun: string;
    summaries: { list: string; create: string; revoke: string };
  },
) {
  return new Elysia({ prefix: "/api/v1" })
    .get(
      c.path,
      async ({ request }) => {
        await requireApiToken(ctx, request);
        return json({ data: (await c.store.list(ctx.db)).map(c.toJson) });
      },
      op({ summary: c.summaries.list, response: list(c.model) }),
    )
    .post(
      c.path,
      async ({ request, body }) => {
        const token = await requireApiToken(ctx, request);
        const created = await c.store.create(ctx.db, body, token.actorId);
        return json({ ...c.toJson(created.record), [c.secretName]: created.secret }, 201);
      },
      op({
        summary: c.summaries.create,
        body: newCredentialSchema,
        response: c.model.extend({ [c.secretName]: z.string() }),
        status: 201,
      }),
    )
    .delete(
      `${c.path}/:id`,
      async ({ request, params }) => {
        await requireApiToken(ctx, request);
        await c.store.revoke(ctx.db, pathId(params.id, c.noun));
        return new Response(null, { status: 204 });
      },
      op({ summary: c.summaries.revoke, response: null }),
    );
}
