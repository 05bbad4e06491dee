import { sql } from "drizzle-orm";
import { blob, customType, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Which source last wrote each field, and when (ms): the enrichment merge rule reads it. */
export type Provenance = Record<string, { source: string; at: number }>;

/**
 * Milliseconds since the epoch, read back as Date. A custom type rather than integer's timestamp
 * mode because that mode fails on null passed through a prepared query's placeholder.
 */
const timestamp = customType<{ data: Date; driverData: number }>({
  dataType: () => "integer",
  toDriver: (v) => (v === null || v === undefined ? null : v.getTime()) as number,
  fromDriver: (v) => new Date(v),
});
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
    provenance: text("provenance", { mode: "json" }).$type<Provenance>().notNull().default({}),
    ...auditColumns,
  },
  (t) => [
    uniqueIndex("organizations_name_unique").on(sql`lower(${t.name})`),
    index("organizations_domain_idx").on(t.domain),
    index("organizations_name_sort_idx").on(sql`lower(${t.name})`, t.id),
  ],
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
    /** Segment traits that map onto no field, kept as sent. */
    traits: text("traits", { mode: "json" }).$type<Record<string, unknown>>().notNull().default({}),
    provenance: text("provenance", { mode: "json" }).$type<Provenance>().notNull().default({}),
    /**
     * The words users_fts holds for this person (db/fts-words.ts nameWordsOf), so a search sorted by name can
     * check rows as it walks the name index; null until written (a search then asks the full-text index).
     */
    nameWords: text("name_words"),
    ...auditColumns,
  },
  (t) => [
    uniqueIndex("users_login_unique").on(t.login),
    uniqueIndex("users_email_unique").on(t.email),
    index("users_organization_idx").on(t.organizationId),
    // Sort keys of the people list (keyset pagination): the same expressions as src/domain/users.ts orders by.
    // The name index carries what a search checks, so a search sorted by name walks it without reading rows.
    index("users_name_sort_idx").on(
      sql`coalesce(${t.lastname}, '')`,
      sql`coalesce(${t.firstname}, '')`,
      t.id,
      t.nameWords,
      t.organizationId,
    ),
    index("users_email_sort_idx").on(sql`coalesce(${t.email}, '')`, t.id),
    // Search by email domain ("@acme", "acme.com"): the same expression as src/domain/users.ts searches by.
    index("users_email_domain_idx").on(sql`substr(${t.email}, instr(${t.email}, '@') + 1)`),
    index("users_created_idx").on(t.createdAt, t.id),
    index("users_updated_idx").on(t.updatedAt, t.id),
    index("users_last_seen_idx").on(sql`coalesce(${t.lastSeenAt}, 0)`, t.id),
  ],
);

export const roles = sqliteTable("roles", {
  id: integer("id").primaryKey(),
  name: text("name").notNull().unique(),
});

export const userRoles = sqliteTable(
  "user_roles",
  {
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    roleId: integer("role_id")
      .notNull()
      .references(() => roles.id),
  },
  (t) => [primaryKey({ columns: [t.userId, t.roleId] }), index("user_roles_role_idx").on(t.roleId)],
);

/** Admin sign-in sessions; the cookie holds a random token, the table only its SHA-256. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
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

export const groups = sqliteTable("groups", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  note: text("note"),
  active: integer("active", { mode: "boolean" }).notNull().default(true),
  ...auditColumns,
});

export const userGroups = sqliteTable(
  "user_groups",
  {
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    groupId: integer("group_id")
      .notNull()
      .references(() => groups.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.userId, t.groupId] }), index("user_groups_group_idx").on(t.groupId)],
);

/** Lookups with Zammad's ids and names. */
export const ticketStates = sqliteTable("ticket_states", {
  id: integer("id").primaryKey(),
  name: text("name").notNull().unique(),
});
export const ticketPriorities = sqliteTable("ticket_priorities", {
  id: integer("id").primaryKey(),
  name: text("name").notNull().unique(),
});

export const tickets = sqliteTable(
  "tickets",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    number: text("number").notNull().unique(),
    title: text("title").notNull(),
    stateId: integer("state_id")
      .notNull()
      .references(() => ticketStates.id),
    priorityId: integer("priority_id")
      .notNull()
      .references(() => ticketPriorities.id),
    groupId: integer("group_id").references(() => groups.id),
    customerId: integer("customer_id")
      .notNull()
      .references(() => users.id),
    ownerId: integer("owner_id").references(() => users.id),
    organizationId: integer("organization_id").references(() => organizations.id),
    articleCount: integer("article_count").notNull().default(0),
    createArticleType: text("create_article_type"),
    createArticleSender: text("create_article_sender"),
    lastContactAt: timestamp("last_contact_at"),
    lastContactCustomerAt: timestamp("last_contact_customer_at"),
    lastContactAgentAt: timestamp("last_contact_agent_at"),
    closedAt: timestamp("closed_at"),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    ...auditColumns,
  },
  (t) => [
    index("tickets_customer_idx").on(t.customerId),
    index("tickets_owner_idx").on(t.ownerId),
    index("tickets_organization_idx").on(t.organizationId),
    index("tickets_group_idx").on(t.groupId),
    index("tickets_state_idx").on(t.stateId, t.id),
  ],
);

export const articles = sqliteTable(
  "articles",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    ticketId: integer("ticket_id")
      .notNull()
      .references(() => tickets.id, { onDelete: "cascade" }),
    from: text("from"),
    to: text("to"),
    subject: text("subject"),
    type: text("type", { enum: ["email", "phone", "web", "note"] }).notNull(),
    sender: text("sender", { enum: ["Customer", "Agent", "System"] }).notNull(),
    contentType: text("content_type").notNull().default("text/plain"),
    body: text("body").notNull(),
    internal: integer("internal", { mode: "boolean" }).notNull().default(false),
    originById: integer("origin_by_id").references(() => users.id, { onDelete: "set null" }),
    ...auditColumns,
  },
  (t) => [index("articles_ticket_idx").on(t.ticketId, t.id)],
);

/** Attachment contents live in the database, so a backup holds everything. */
export const attachments = sqliteTable(
  "attachments",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    articleId: integer("article_id")
      .notNull()
      .references(() => articles.id, { onDelete: "cascade" }),
    filename: text("filename").notNull(),
    size: integer("size").notNull(),
    contentType: text("content_type").notNull(),
    sha256: text("sha256").notNull(),
    data: blob("data", { mode: "buffer" }).notNull(),
    createdAt: timestamp("created_at").notNull().default(now),
  },
  (t) => [index("attachments_article_idx").on(t.articleId)],
);

/** Admin-defined extra fields for users and organizations; values live in each row's `custom` JSON. */
export const customFields = sqliteTable(
  "custom_fields",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    objectType: text("object_type", { enum: ["user", "organization"] }).notNull(),
    name: text("name").notNull(),
    label: text("label").notNull(),
    type: text("type", { enum: ["text", "number", "boolean", "date", "select"] }).notNull(),
    options: text("options", { mode: "json" }).$type<string[]>().notNull().default([]),
    required: integer("required", { mode: "boolean" }).notNull().default(false),
    position: integer("position").notNull().default(0),
    ...auditColumns,
  },
  (t) => [uniqueIndex("custom_fields_object_name_unique").on(t.objectType, t.name)],
);

/**
 * The change feed: every create, update and delete records one row in the same transaction.
 * Consumers (triggers, CRM sync, enrichment) read it from a cursor (the id).
 */
export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    type: text("type").notNull(),
    objectType: text("object_type").notNull(),
    objectId: integer("object_id").notNull(),
    changes: text("changes", { mode: "json" }).$type<Record<string, [unknown, unknown]>>().notNull().default({}),
    actorId: integer("actor_id"),
    source: text("source").notNull(),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [index("events_object_idx").on(t.objectType, t.objectId, t.id)],
);

/** Segment write keys: the Basic-auth username of /v1/identify and /v1/batch. Stored hashed. */
export const writeKeys = sqliteTable("write_keys", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  prefix: text("prefix").notNull(),
  createdById: integer("created_by_id").references(() => users.id, { onDelete: "set null" }),
  createdAt: timestamp("created_at").notNull(),
  lastUsedAt: timestamp("last_used_at"),
  revokedAt: timestamp("revoked_at"),
});

/** Segment messageIds already applied, for de-duplication (pruned after a week). */
export const seenMessages = sqliteTable(
  "seen_messages",
  {
    messageId: text("message_id").primaryKey(),
    receivedAt: timestamp("received_at").notNull(),
  },
  (t) => [index("seen_messages_received_idx").on(t.receivedAt)],
);

/**
 * Sign-in attempts per throttle key (an address, or an address and account) in a fixed window. In the
 * database so a restart keeps them and several nodes share them; expired rows are pruned.
 */
export const loginAttempts = sqliteTable(
  "login_attempts",
  {
    key: text("key").primaryKey(),
    attempts: integer("attempts").notNull(),
    /** Milliseconds since the epoch when the window ends and the count starts again. */
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("login_attempts_expires_idx").on(t.expiresAt)],
);

/**
 * What one request leaves for the next page (a secret shown once, sealed with the key; a form typed
 * while signed out, never its secret fields), in the database so the next request may reach any node.
 * Expired rows are never read and are pruned.
 */
export const pageState = sqliteTable(
  "page_state",
  {
    key: text("key").primaryKey(),
    kind: text("kind", { enum: ["shown_once", "kept_form"] }).notNull(),
    /** The page (path, with its query for a kept form) the state is for. */
    page: text("page").notNull(),
    data: text("data").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
  },
  (t) => [index("page_state_expires_idx").on(t.kind, t.expiresAt)],
);

/** A CSV file between its preview and the admin's "Import", in pieces, so any node can import it. */
export const pendingUploads = sqliteTable(
  "pending_uploads",
  {
    id: text("id").primaryKey(),
    kind: text("kind").notNull(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    bytes: integer("bytes").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
  },
  (t) => [index("pending_uploads_expires_idx").on(t.expiresAt)],
);

export const pendingUploadChunks = sqliteTable(
  "pending_upload_chunks",
  {
    uploadId: text("upload_id")
      .notNull()
      .references(() => pendingUploads.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    data: blob("data", { mode: "buffer" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.seq] })],
);

/** What a node is doing, as its heartbeat last reported it. */
export type NodeActivity = { in_flight_deliveries: number; running_schedules: string[] };

/** The server processes sharing this database: their heartbeat (src/cluster/nodes.ts). */
export const nodes = sqliteTable(
  "nodes",
  {
    id: text("id").primaryKey(),
    address: text("address").notNull(),
    version: text("version").notNull(),
    startedAt: timestamp("started_at").notNull(),
    lastSeenAt: timestamp("last_seen_at").notNull(),
    stoppedAt: timestamp("stopped_at"),
    activity: text("activity", { mode: "json" }).$type<NodeActivity>().notNull(),
    /** The process holding the node id now (random per start): one live process per id. */
    instance: text("instance"),
  },
  (t) => [index("nodes_last_seen_idx").on(t.lastSeenAt)],
);

/**
 * One row per schedule and period: the node whose insert won runs it (src/cluster/schedules.ts), under
 * a lease it renews while running; a run whose lease ran out (its node died) is taken over.
 */
export const scheduleRuns = sqliteTable(
  "schedule_runs",
  {
    schedule: text("schedule").notNull(),
    periodStart: timestamp("period_start").notNull(),
    nodeId: text("node_id").notNull(),
    startedAt: timestamp("started_at").notNull(),
    leaseUntil: timestamp("lease_until").notNull(),
    finishedAt: timestamp("finished_at"),
    outcome: text("outcome", { enum: ["running", "succeeded", "failed"] }).notNull(),
    error: text("error"),
    attempts: integer("attempts").notNull().default(1),
  },
  (t) => [
    primaryKey({ columns: [t.schedule, t.periodStart] }),
    index("schedule_runs_running_idx").on(t.outcome, t.leaseUntil),
    index("schedule_runs_started_idx").on(t.startedAt),
  ],
);
