import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Milliseconds since the epoch, read back as Date. */
const timestamp = (name: string) => integer(name, { mode: "timestamp_ms" });
const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`;

export const WEBHOOK_METHODS = ["POST", "PUT", "PATCH"] as const;
export const AUTH_TYPES = ["none", "basic", "bearer"] as const;

/**
 * Outgoing webhook endpoints. Secret columns hold values sealed by ctx.secrets (never plain text):
 * the optional signature token (X-Hub-Signature), the Standard Webhooks secret (whsec_…) and, during
 * a rotation, the previous one with the time it stops signing; the basic-auth password or bearer token.
 */
export const webhooks = sqliteTable("webhooks", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  url: text("url").notNull(),
  method: text("method", { enum: WEBHOOK_METHODS }).notNull().default("POST"),
  signatureTokenSealed: text("signature_token_sealed"),
  signingSecretSealed: text("signing_secret_sealed").notNull(),
  previousSecretSealed: text("previous_secret_sealed"),
  previousSecretExpiresAt: timestamp("previous_secret_expires_at"),
  tlsVerify: integer("tls_verify", { mode: "boolean" }).notNull().default(true),
  timeoutSeconds: integer("timeout_seconds").notNull().default(15),
  /** Extra request headers, sent as given (ours win on a clash). */
  headers: text("headers", { mode: "json" }).$type<Record<string, string>>().notNull().default({}),
  /** Secret extra headers (API keys): {name: sealed value}; shown masked, redacted in logs. */
  secretHeadersSealed: text("secret_headers_sealed", { mode: "json" }).$type<Record<string, string>>(),
  /** The admin allowed a URL that points to this server itself (a loop risk, refused by default). */
  allowSelf: integer("allow_self", { mode: "boolean" }).notNull().default(false),
  authType: text("auth_type", { enum: AUTH_TYPES }).notNull().default("none"),
  authUsername: text("auth_username"),
  authSecretSealed: text("auth_secret_sealed"),
  active: integer("active", { mode: "boolean" }).notNull().default(true),
  note: text("note"),
  /** A mustache JSON template; null sends the default (Zammad-shaped) payload. */
  customPayload: text("custom_payload"),
  zammadCompat: integer("zammad_compat", { mode: "boolean" }).notNull().default(false),
  strictOrder: integer("strict_order", { mode: "boolean" }).notNull().default(false),
  maxAttempts: integer("max_attempts").notNull().default(5),
  /** First retry after this long; later ones back off (×6 each, capped at 6 h). */
  retryBaseSeconds: integer("retry_base_seconds").notNull().default(30),
  createdAt: timestamp("created_at").notNull().default(now),
  updatedAt: timestamp("updated_at").notNull().default(now),
  createdById: integer("created_by_id"),
  updatedById: integer("updated_by_id"),
});

export type Condition = { field: string; operator: string; value?: string | string[] | null };

/** Triggers: which events, under which conditions, go to which webhooks. */
export const webhookTriggers = sqliteTable("webhook_triggers", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  active: integer("active", { mode: "boolean" }).notNull().default(true),
  events: text("events", { mode: "json" }).$type<string[]>().notNull(),
  /** "all": every condition must hold; "any": one is enough. No conditions: always. */
  match: text("match", { enum: ["all", "any"] })
    .notNull()
    .default("all"),
  conditions: text("conditions", { mode: "json" }).$type<Condition[]>().notNull().default([]),
  note: text("note"),
  createdAt: timestamp("created_at").notNull().default(now),
  updatedAt: timestamp("updated_at").notNull().default(now),
  createdById: integer("created_by_id"),
  updatedById: integer("updated_by_id"),
});

export const webhookTriggerTargets = sqliteTable(
  "webhook_trigger_targets",
  {
    triggerId: integer("trigger_id")
      .notNull()
      .references(() => webhookTriggers.id, { onDelete: "cascade" }),
    webhookId: integer("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
  },
  (t) => [
    primaryKey({ columns: [t.triggerId, t.webhookId] }),
    index("webhook_trigger_targets_webhook_idx").on(t.webhookId),
  ],
);

/**
 * A payload as recorded at the change, stored once however many webhooks it fans out to; the jobs
 * refer to it. Kept while a job may still send it, then pruned with the delivery history.
 */
export const webhookPayloads = sqliteTable("webhook_payloads", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  data: text("data").notNull(),
  createdAt: timestamp("created_at").notNull().default(now),
});
