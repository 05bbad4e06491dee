import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Milliseconds since the epoch, read back as Date. */
const timestamp = (name: string) => integer(name, { mode: "timestamp_ms" });
const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`;
const auditColumns = {
  createdAt: timestamp("created_at").notNull().default(now),
  updatedAt: timestamp("updated_at").notNull().default(now),
  createdById: integer("created_by_id"),
  updatedById: integer("updated_by_id"),
};

export const organizations = sqliteTable(
  "organizations",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    name: text("name").notNull(),
    domain: text("domain"),
    domainAssignment: integer("domain_assignment", { mode: "boolean" }).notNull().default(false),
    shared: integer("shared", { mode: "boolean" }).notNull().default(true),
    note: text("note"),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    custom: text("custom", { mode: "json" }).$type<Record<string, unknown>>().notNull().default({}),
    ...auditColumns,
  },
  (t) => [uniqueIndex("organizations_name_unique").on(sql`lower(${t.name})`), index("organizations_domain_idx").on(t.domain)],
);

export const users = sqliteTable(
  "users",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    login: text("login").notNull(),
    /** Stored lower-cased: email is unique without regard to case. */
    email: text("email"),
    firstname: text("firstname"),
    lastname: text("lastname"),
    phone: text("phone"),
    mobile: text("mobile"),
    address: text("address"),
    web: text("web"),
    note: text("note"),
    image: text("image"),
    organizationId: integer("organization_id").references(() => organizations.id),
    vip: integer("vip", { mode: "boolean" }).notNull().default(false),
    verified: integer("verified", { mode: "boolean" }).notNull().default(false),
    outOfOffice: integer("out_of_office", { mode: "boolean" }).notNull().default(false),
    timezone: text("timezone"),
    lastLogin: timestamp("last_login"),
    lastSeenAt: timestamp("last_seen_at"),
    passwordHash: text("password_hash"),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    custom: text("custom", { mode: "json" }).$type<Record<string, unknown>>().notNull().default({}),
    ...auditColumns,
  },
  (t) => [
    uniqueIndex("users_login_unique").on(t.login),
    uniqueIndex("users_email_unique").on(t.email),
    index("users_organization_idx").on(t.organizationId),
  ],
);

export const roles = sqliteTable("roles", {
  id: integer("id").primaryKey(),
  name: text("name").notNull().unique(),
});

export const userRoles = sqliteTable(
  "user_roles",
  {
    userId: integer("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    roleId: integer("role_id").notNull().references(() => roles.id),
  },
  (t) => [primaryKey({ columns: [t.userId, t.roleId] }), index("user_roles_role_idx").on(t.roleId)],
);

/** Admin sign-in sessions; the cookie holds a random token, the table only its SHA-256. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: integer("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    csrfToken: text("csrf_token").notNull(),
    createdAt: timestamp("created_at").notNull(),
    lastSeenAt: timestamp("last_seen_at").notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

/** API bearer tokens; shown once, stored as SHA-256. */
export const apiTokens = sqliteTable("api_tokens", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  /** The first characters of the token, so admins can tell tokens apart. */
  prefix: text("prefix").notNull(),
  createdById: integer("created_by_id").references(() => users.id, { onDelete: "set null" }),
  createdAt: timestamp("created_at").notNull(),
  lastUsedAt: timestamp("last_used_at"),
  revokedAt: timestamp("revoked_at"),
});

/** Key/value settings; values of secret settings are encrypted (see secrets.ts). */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value", { mode: "json" }).notNull(),
  updatedAt: timestamp("updated_at").notNull().default(now),
});
