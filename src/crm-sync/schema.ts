import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { RoleName } from "../domain/roles";

const timestamp = (name: string) => integer(name, { mode: "timestamp_ms" });
const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`;

/** One outgoing call of a sync (create, update or delete users): templates and transport options. */
export type CrmOperation = {
  /** Update and delete can be switched off; create always runs while the sync is enabled. */
  enabled: boolean;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  url: string;
  /** A JSON object template, e.g. {"X-Source": "switchboard"}; "" for none. */
  headers: string;
  /** A JSON template; "" sends no body. */
  data: string;
  tlsVerify: boolean;
  timeoutSeconds: number;
};

/** Which people a sync pushes: all, or only those with a role and/or in an organization. */
export type CrmFilter = { role: RoleName | null; organizationId: number | null };

/** A CRM webhook sync (Deskpro's "Webhook Sync"): its calls, authentication and filter. */
export const crmSyncs = sqliteTable("crm_syncs", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  authType: text("auth_type", { enum: ["none", "basic", "bearer"] })
    .notNull()
    .default("none"),
  authUsername: text("auth_username"),
  /** The basic-auth password or bearer token, encrypted (secrets.ts); never shown after saving. */
  authSecret: text("auth_secret"),
  /** Secret headers sent with every call (API keys): {name: sealed value}; shown masked, redacted in logs. */
  secretHeadersSealed: text("secret_headers_sealed", { mode: "json" }).$type<Record<string, string>>(),
  /** The admin allowed URLs that point to this server itself (a loop risk, refused by default). */
  allowSelf: integer("allow_self", { mode: "boolean" }).notNull().default(false),
  filter: text("filter", { mode: "json" }).$type<CrmFilter>().notNull(),
  /** JSONPath read on the create response (jsonpath-plus), e.g. $.id; "" when the CRM returns none. */
  uniqueIdPath: text("unique_id_path").notNull().default(""),
  createOp: text("create_op", { mode: "json" }).$type<CrmOperation>().notNull(),
  updateOp: text("update_op", { mode: "json" }).$type<CrmOperation>().notNull(),
  deleteOp: text("delete_op", { mode: "json" }).$type<CrmOperation>().notNull(),
  /** The last "sync all existing users" run: its jobs are the ids in [first, last]; progress counts finished ones. */
  bulkFirstJobId: integer("bulk_first_job_id"),
  bulkLastJobId: integer("bulk_last_job_id"),
  bulkStartedAt: timestamp("bulk_started_at"),
  createdAt: timestamp("created_at").notNull().default(now),
  updatedAt: timestamp("updated_at").notNull().default(now),
});

/**
 * The person's record in the CRM, per (sync, user): the id read by the Unique ID Path, or why there
 * is none. Kept after the user is deleted until the CRM's delete succeeds (it addresses that id).
 */
export const crmSyncLinks = sqliteTable(
  "crm_sync_links",
  {
    syncId: integer("sync_id")
      .notNull()
      .references(() => crmSyncs.id, { onDelete: "cascade" }),
    /** No foreign key: the link outlives the user row until the delete call succeeds. */
    userId: integer("user_id").notNull(),
    externalId: text("external_id"),
    /** Why updates cannot be sent (no path, path found nothing, create failed); null when linked or pending. */
    note: text("note"),
    createJobId: integer("create_job_id"),
    userDeleted: integer("user_deleted", { mode: "boolean" }).notNull().default(false),
    createdAt: timestamp("created_at").notNull().default(now),
    updatedAt: timestamp("updated_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.syncId, t.userId] })],
);

/**
 * Calls that were planned but not sent (an update without an external id ...), with the reason: the
 * Logs tab shows them beside the HTTP log.
 */
export const crmSyncSkips = sqliteTable(
  "crm_sync_skips",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    syncId: integer("sync_id")
      .notNull()
      .references(() => crmSyncs.id, { onDelete: "cascade" }),
    userId: integer("user_id").notNull(),
    operation: text("operation", { enum: ["create", "update", "delete"] }).notNull(),
    jobId: integer("job_id"),
    reason: text("reason").notNull(),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [
    index("crm_sync_skips_sync_idx").on(t.syncId, t.id),
    index("crm_sync_skips_user_idx").on(t.syncId, t.userId, t.id),
  ],
);
