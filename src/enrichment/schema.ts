import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "../db/schema";

const timestamp = (name: string) => integer(name, { mode: "timestamp_ms" });

/**
 * One row per email ever looked up: the cache that keeps an email from costing two calls within
 * the refresh interval, and the memory of emails the provider does not know.
 */
export const enrichmentLookups = sqliteTable(
  "enrichment_lookups",
  {
    email: text("email").primaryKey(),
    /** pending: a job is queued or waiting on the provider; found; unknown (404); invalid (422). */
    status: text("status", { enum: ["pending", "found", "unknown", "invalid"] }).notNull(),
    requestedAt: timestamp("requested_at").notNull(),
    checkedAt: timestamp("checked_at"),
    /** An unknown email is not asked about again before this. */
    unknownUntil: timestamp("unknown_until"),
    error: text("error"),
  },
  (t) => [index("enrichment_lookups_requested_idx").on(t.requestedAt)],
);

/** The provider's full answer per user (person and company halves as sent), and when it was checked. */
export const userEnrichments = sqliteTable("user_enrichments", {
  userId: integer("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  provider: text("provider").notNull().default("clearbit"),
  email: text("email").notNull(),
  person: text("person", { mode: "json" }).$type<Record<string, unknown> | null>(),
  company: text("company", { mode: "json" }).$type<Record<string, unknown> | null>(),
  checkedAt: timestamp("checked_at").notNull(),
});

/** Segment Engage-style audiences: conditions over user fields and traits, shown as a boolean property. */
export const audiences = sqliteTable("audiences", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  /** The snake_cased property name (order_completed_last_30days). */
  key: text("key").notNull().unique(),
  match: text("match", { enum: ["all", "any"] })
    .notNull()
    .default("all"),
  conditions: text("conditions", { mode: "json" }).$type<unknown[]>().notNull(),
  createdAt: timestamp("created_at").notNull().default(sql`(cast(unixepoch('subsec') * 1000 as integer))`),
  updatedAt: timestamp("updated_at").notNull().default(sql`(cast(unixepoch('subsec') * 1000 as integer))`),
});

export const audienceMembers = sqliteTable(
  "audience_members",
  {
    audienceId: integer("audience_id")
      .notNull()
      .references(() => audiences.id, { onDelete: "cascade" }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.audienceId, t.userId] }), index("audience_members_user_idx").on(t.userId)],
);

/**
 * The Clearbit rate limit's sliding log, shared by every node on the database: one row per call
 * granted in the last window (older rows are pruned). A call takes the next number: two nodes
 * granting at once collide on it, and the one that loses looks again (see rate-limiter.ts).
 */
export const enrichmentRateCalls = sqliteTable(
  "enrichment_rate_calls",
  {
    seq: integer("seq").primaryKey(),
    /** When the call was granted, in milliseconds since the epoch. */
    at: integer("at").notNull(),
  },
  (t) => [index("enrichment_rate_calls_at_idx").on(t.at)],
);
