import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { preparedFor } from "../db/prepared";
import { z } from "zod";
import type { Db } from "../db/client";
import { apiTokens, userRoles, users, writeKeys } from "../db/schema";
import { randomToken, sha256Hex } from "../crypto-tokens";
import { notFound, unauthorized, validate, ValidationError } from "../errors";
import { isActiveAdmin } from "./admin-access";
import { credentialCacheOf, credentialsChanged } from "./credential-cache";
import { ADMIN_ROLE_ID } from "./roles";

/**
 * Named secrets handed to programs (API tokens, Segment write keys): shown once, stored as SHA-256,
 * revocable, with a last-used time. Both kinds share this code; each has its own table.
 *
 * An API token belongs to the admin who made it (created_by_id) and acts as them: it works only
 * while they are an active administrator (deactivated: suspended; role removed or deleted: revoked,
 * see admin-access.ts). A write key only feeds Segment ingest and outlives the admin who made it.
 */
export type CredentialView = {
  id: number;
  name: string;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  createdBy: string | null;
  ownerId: number | null;
  suspended: boolean;
};
type Authenticated = { id: number; name: string; actorId: number | null };

export const newCredentialSchema = z.strictObject({
  name: z.string().trim().min(1, "is required").max(100, "must be at most 100 characters"),
});
// Recording every use would turn each authenticated read into a write; a minute's precision is enough.
const TOUCH_EVERY_MS = 60_000;

function credentialStore(
  table: typeof apiTokens | typeof writeKeys,
  opts: { prefix: string; what: string; bytes: number; ownedByAdmin: boolean },
) {
  // Both tables have the same columns; drizzle's types cannot express "either", so one is named.
  const t = table as typeof apiTokens;
  const ownerIsAdmin = sql<number>`exists (select 1 from ${userRoles}
    where ${userRoles.userId} = ${t.createdById} and ${userRoles.roleId} = ${ADMIN_ROLE_ID})`;
  const lookup = preparedFor((db) =>
    db
      .select({
        id: t.id,
        name: t.name,
        lastUsedAt: t.lastUsedAt,
        actorId: t.createdById,
        ownerActive: users.active,
        ownerIsAdmin,
      })
      .from(t)
      .leftJoin(users, eq(users.id, t.createdById))
      .where(and(eq(t.tokenHash, sql.placeholder("hash")), isNull(t.revokedAt)))
      .prepare(),
  );
  type LookupRow = Awaited<ReturnType<ReturnType<typeof lookup>["execute"]>>[number];
  return {
    prefix: opts.prefix,

    async create(db: Db, input: unknown, actorId: number | null): Promise<{ secret: string; record: CredentialView }> {
      const { name } = validate(newCredentialSchema, input);
      if (opts.ownedByAdmin && !(actorId !== null && (await isActiveAdmin(db, actorId))))
        throw new ValidationError([{ field: "owner", message: "must be an active administrator" }]);
      const secret = opts.prefix + randomToken(opts.bytes);
      const row = (
        await db.transaction(async (tx) =>
          tx
            .insert(t)
            .values({
              name,
              tokenHash: sha256Hex(secret),
              prefix: secret.slice(0, opts.prefix.length + 6),
              createdById: actorId,
              createdAt: new Date(),
            })
            .returning(),
        )
      )[0]!;
      const createdBy =
        actorId === null
          ? null
          : ((await db.select({ email: users.email }).from(users).where(eq(users.id, actorId)).limit(1))[0]?.email ??
            null);
      return {
        secret,
        record: {
          id: row.id,
          name: row.name,
          prefix: row.prefix,
          createdAt: row.createdAt,
          lastUsedAt: null,
          createdBy,
          ownerId: actorId,
          suspended: false,
        },
      };
    },

    async list(db: Db): Promise<CredentialView[]> {
      return (
        await db
          .select({
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            createdAt: t.createdAt,
            lastUsedAt: t.lastUsedAt,
            createdBy: users.email,
            ownerId: t.createdById,
            ownerActive: users.active,
          })
          .from(t)
          .leftJoin(users, eq(users.id, t.createdById))
          .where(isNull(t.revokedAt))
          .orderBy(desc(t.id))
      ).map(({ ownerActive, ...view }) => ({ ...view, suspended: opts.ownedByAdmin && ownerActive === false }));
    },

    async revoke(db: Db, id: number): Promise<void> {
      const revoked = await db.transaction(async (tx) => {
        credentialsChanged(tx);
        return await tx
          .update(t)
          .set({ revokedAt: new Date() })
          .where(and(eq(t.id, id), isNull(t.revokedAt)))
          .returning({ id: t.id });
      });
      if (!revoked.length) throw notFound(opts.what);
    },

    async authenticate(db: Db, secret: string): Promise<Authenticated | null> {
      if (!secret.startsWith(opts.prefix)) return null;
      const hash = sha256Hex(secret);
      const cache = credentialCacheOf<LookupRow>(db);
      const row =
        cache.get(hash) ??
        (await cache.read(
          hash,
          async () => (await lookup(db).execute({ hash }))[0],
          // Only what authenticates: a suspended owner's token is read again (its error says why).
          (r) => !opts.ownedByAdmin || (!!r.ownerIsAdmin && !!r.ownerActive),
        ));
      if (!row) return null;
      if (opts.ownedByAdmin) {
        // Revoked with the admin role; an owner missing or without the role is a token nobody answers for.
        if (!row.ownerIsAdmin) return null;
        if (!row.ownerActive)
          throw unauthorized("this API token is suspended: the administrator who owns it is deactivated");
      }
      if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
        const now = new Date();
        await db.transaction(async (tx) => tx.update(t).set({ lastUsedAt: now }).where(eq(t.id, row.id)));
        row.lastUsedAt = now; // the kept copy too: touched once a minute, not on every use
      }
      return { id: row.id, name: row.name, actorId: row.actorId };
    },
  };
}

export const apiTokenStore = credentialStore(apiTokens, {
  prefix: "sbt_",
  what: "API token",
  bytes: 32,
  ownedByAdmin: true,
});
export const writeKeyStore = credentialStore(writeKeys, {
  prefix: "wk_",
  what: "write key",
  bytes: 24,
  ownedByAdmin: false,
});
