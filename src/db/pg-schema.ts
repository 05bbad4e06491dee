/**
 * The PostgreSQL schema: the DDL mirror of the SQLite tables (src/db/schema.ts and src/<feature>/schema.ts),
 * table by table, column by column, from which drizzle-kit generates migrations-pg/. Queries do not use
 * it: they are built from the SQLite table objects and run unchanged on PostgreSQL through postgres.js
 * (docs/architecture.md, "PostgreSQL driver"), so the types here only have to read back as the SQLite
 * columns do: ids, counters and millisecond timestamps are bigint (parsed as numbers by the driver),
 * booleans are boolean, JSON is text. test/unit/pg-schema-drift.test.ts fails when the two drift.
 */
import { type SQL, sql } from "drizzle-orm";
import { foldAccents } from "./pg-fold-accents";
import {
  bigint,
  boolean,
  customType,
  index,
  type PgColumn,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { ACTIVE_JOB, JOB_STATUSES, RUNNING_JOB } from "../delivery/schema";
import { AUTH_TYPES, WEBHOOK_METHODS } from "../webhooks/schema";

const now = sql`((extract(epoch from clock_timestamp()) * 1000)::bigint)`;
/** SQLite's INTEGER PRIMARY KEY AUTOINCREMENT; explicit ids (seeded lookups) are still accepted. */
const id = (name: string) => bigint(name, { mode: "number" }).primaryKey().generatedByDefaultAsIdentity();
/** Milliseconds since the epoch, as on SQLite. */
const timestamp = (name: string) => bigint(name, { mode: "number" });
/** JSON as text: the SQLite columns' JSON mode parses and serialises it. */
const json = (name: string) => text(name);
const bytea = customType<{ data: Buffer }>({ dataType: () => "bytea" });
const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });
/**
 * Search as you type (SQLite: the users_fts and organizations_fts FTS5 tables): the words of the given
 * columns, lower-cased, common accents folded and split at spaces and punctuation as FTS5's unicode61
 * tokenizer splits them (so "ada.lovelace@acme.com" holds ada, lovelace, acme and com), in a
 * stored tsvector with a GIN index, queried with prefix terms: to_tsquery('simple', 'ada:* & lov:*').
 */
const searchWordsOf = (...columns: (SQL | PgColumn)[]) =>
  sql`to_tsvector('simple'::regconfig, regexp_replace(${foldAccents(
    sql`lower(${sql.join(
      columns.map((c) => sql`coalesce(${c}, '')`),
      sql` || ' ' || `,
    )})`,
  )}, '[[:space:][:punct:]]+', ' ', 'g'))`;
const auditColumns = {
  createdAt: timestamp("created_at").notNull().default(now),
  updatedAt: timestamp("updated_at").notNull().default(now),
  createdById: bigint("created_by_id", { mode: "number" }),
  updatedById: bigint("updated_by_id", { mode: "number" }),
};

// db

export const organizations = pgTable(
  "organizations",
  {
    id: id("id"),
    name: text("name").notNull(),
    domain: text("domain"),
    domainAssignment: boolean("domain_assignment").notNull().default(false),
    shared: boolean("shared").notNull().default(true),
    note: text("note"),
    active: boolean("active").notNull().default(true),
    custom: json("custom").notNull().default("{}"),
    provenance: json("provenance").notNull().default("{}"),
    ...auditColumns,
    searchWords: tsvector("search_words").generatedAlwaysAs(
      (): SQL => searchWordsOf(organizations.name, organizations.domain),
    ),
  },
  (t) => [
    uniqueIndex("organizations_name_unique").on(sql`lower(${t.name})`),
    index("organizations_domain_idx").on(t.domain),
    index("organizations_name_sort_idx").on(sql`lower(${t.name})`, t.id),
    index("organizations_search_idx").using("gin", t.searchWords),
  ],
);

export const users = pgTable(
  "users",
  {
    id: id("id"),
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
    organizationId: bigint("organization_id", { mode: "number" }).references(() => organizations.id),
    vip: boolean("vip").notNull().default(false),
    verified: boolean("verified").notNull().default(false),
    outOfOffice: boolean("out_of_office").notNull().default(false),
    timezone: text("timezone"),
    lastLogin: timestamp("last_login"),
    lastSeenAt: timestamp("last_seen_at"),
    passwordHash: text("password_hash"),
    active: boolean("active").notNull().default(true),
    custom: json("custom").notNull().default("{}"),
    /** Segment traits that map onto no field, kept as sent. */
    traits: json("traits").notNull().default("{}"),
    provenance: json("provenance").notNull().default("{}"),
    /** SQLite's search walk reads it (schema.ts); written here too, unused by PostgreSQL's search. */
    nameWords: text("name_words"),
    ...auditColumns,
    searchWords: tsvector("search_words").generatedAlwaysAs(
      (): SQL => searchWordsOf(users.email, users.firstname, users.lastname, users.login),
    ),
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
    index("users_email_domain_idx").on(sql`substr(${t.email}, strpos(${t.email}, '@') + 1)`),
    index("users_created_idx").on(t.createdAt, t.id),
    index("users_updated_idx").on(t.updatedAt, t.id),
    index("users_last_seen_idx").on(sql`coalesce(${t.lastSeenAt}, 0)`, t.id),
    index("users_search_idx").using("gin", t.searchWords),
  ],
);

export const roles = pgTable("roles", {
  id: bigint("id", { mode: "number" }).primaryKey(),
  name: text("name").notNull().unique(),
});

export const userRoles = pgTable(
  "user_roles",
  {
    userId: bigint("user_id", { mode: "number" })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    roleId: bigint("role_id", { mode: "number" })
      .notNull()
      .references(() => roles.id),
  },
  (t) => [primaryKey({ columns: [t.userId, t.roleId] }), index("user_roles_role_idx").on(t.roleId)],
);

/** Admin sign-in sessions; the cookie holds a random token, the table only its SHA-256. */
export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: bigint("user_id", { mode: "number" })
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
export const apiTokens = pgTable("api_tokens", {
  id: id("id"),
  name: text("name").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  /** The first characters of the token, so admins can tell tokens apart. */
  prefix: text("prefix").notNull(),
  createdById: bigint("created_by_id", { mode: "number" }).references(() => users.id, { onDelete: "set null" }),
  createdAt: timestamp("created_at").notNull(),
  lastUsedAt: timestamp("last_used_at"),
  revokedAt: timestamp("revoked_at"),
});

/** Key/value settings; values of secret settings are encrypted (see secrets.ts). */
export const settings = pgTable("settings", {
  key: text("key").primaryKey(),
  value: json("value").notNull(),
  updatedAt: timestamp("updated_at").notNull().default(now),
});

export const groups = pgTable("groups", {
  id: id("id"),
  name: text("name").notNull().unique(),
  note: text("note"),
  active: boolean("active").notNull().default(true),
  ...auditColumns,
});

export const userGroups = pgTable(
  "user_groups",
  {
    userId: bigint("user_id", { mode: "number" })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    groupId: bigint("group_id", { mode: "number" })
      .notNull()
      .references(() => groups.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.userId, t.groupId] }), index("user_groups_group_idx").on(t.groupId)],
);

/** Lookups with Zammad's ids and names. */
export const ticketStates = pgTable("ticket_states", {
  id: bigint("id", { mode: "number" }).primaryKey(),
  name: text("name").notNull().unique(),
});

export const ticketPriorities = pgTable("ticket_priorities", {
  id: bigint("id", { mode: "number" }).primaryKey(),
  name: text("name").notNull().unique(),
});

export const tickets = pgTable(
  "tickets",
  {
    id: id("id"),
    number: text("number").notNull().unique(),
    title: text("title").notNull(),
    stateId: bigint("state_id", { mode: "number" })
      .notNull()
      .references(() => ticketStates.id),
    priorityId: bigint("priority_id", { mode: "number" })
      .notNull()
      .references(() => ticketPriorities.id),
    groupId: bigint("group_id", { mode: "number" }).references(() => groups.id),
    customerId: bigint("customer_id", { mode: "number" })
      .notNull()
      .references(() => users.id),
    ownerId: bigint("owner_id", { mode: "number" }).references(() => users.id),
    organizationId: bigint("organization_id", { mode: "number" }).references(() => organizations.id),
    articleCount: bigint("article_count", { mode: "number" }).notNull().default(0),
    createArticleType: text("create_article_type"),
    createArticleSender: text("create_article_sender"),
    lastContactAt: timestamp("last_contact_at"),
    lastContactCustomerAt: timestamp("last_contact_customer_at"),
    lastContactAgentAt: timestamp("last_contact_agent_at"),
    closedAt: timestamp("closed_at"),
    active: boolean("active").notNull().default(true),
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

export const articles = pgTable(
  "articles",
  {
    id: id("id"),
    ticketId: bigint("ticket_id", { mode: "number" })
      .notNull()
      .references(() => tickets.id, { onDelete: "cascade" }),
    from: text("from"),
    to: text("to"),
    subject: text("subject"),
    type: text("type", { enum: ["email", "phone", "web", "note"] }).notNull(),
    sender: text("sender", { enum: ["Customer", "Agent", "System"] }).notNull(),
    contentType: text("content_type").notNull().default("text/plain"),
    body: text("body").notNull(),
    internal: boolean("internal").notNull().default(false),
    originById: bigint("origin_by_id", { mode: "number" }).references(() => users.id, { onDelete: "set null" }),
    ...auditColumns,
  },
  (t) => [index("articles_ticket_idx").on(t.ticketId, t.id)],
);

/** Attachment contents live in the database, so a backup holds everything. */
export const attachments = pgTable(
  "attachments",
  {
    id: id("id"),
    articleId: bigint("article_id", { mode: "number" })
      .notNull()
      .references(() => articles.id, { onDelete: "cascade" }),
    filename: text("filename").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    contentType: text("content_type").notNull(),
    sha256: text("sha256").notNull(),
    data: bytea("data").notNull(),
    createdAt: timestamp("created_at").notNull().default(now),
  },
  (t) => [index("attachments_article_idx").on(t.articleId)],
);

/** Admin-defined extra fields for users and organizations; values live in each row's `custom` JSON. */
export const customFields = pgTable(
  "custom_fields",
  {
    id: id("id"),
    objectType: text("object_type", { enum: ["user", "organization"] }).notNull(),
    name: text("name").notNull(),
    label: text("label").notNull(),
    type: text("type", { enum: ["text", "number", "boolean", "date", "select"] }).notNull(),
    options: json("options").notNull().default("[]"),
    required: boolean("required").notNull().default(false),
    position: bigint("position", { mode: "number" }).notNull().default(0),
    ...auditColumns,
  },
  (t) => [uniqueIndex("custom_fields_object_name_unique").on(t.objectType, t.name)],
);

/**
 * The change feed: every create, update and delete records one row in the same transaction.
 * Consumers (triggers, CRM sync, enrichment) read it from a cursor (the id).
 */
export const events = pgTable(
  "events",
  {
    id: id("id"),
    type: text("type").notNull(),
    objectType: text("object_type").notNull(),
    objectId: bigint("object_id", { mode: "number" }).notNull(),
    changes: json("changes").notNull().default("{}"),
    actorId: bigint("actor_id", { mode: "number" }),
    source: text("source").notNull(),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [index("events_object_idx").on(t.objectType, t.objectId, t.id)],
);

/** Segment write keys: the Basic-auth username of /v1/identify and /v1/batch. Stored hashed. */
export const writeKeys = pgTable("write_keys", {
  id: id("id"),
  name: text("name").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  prefix: text("prefix").notNull(),
  createdById: bigint("created_by_id", { mode: "number" }).references(() => users.id, { onDelete: "set null" }),
  createdAt: timestamp("created_at").notNull(),
  lastUsedAt: timestamp("last_used_at"),
  revokedAt: timestamp("revoked_at"),
});

/** Segment messageIds already applied, for de-duplication (pruned after a week). */
export const seenMessages = pgTable(
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
export const loginAttempts = pgTable(
  "login_attempts",
  {
    key: text("key").primaryKey(),
    attempts: bigint("attempts", { mode: "number" }).notNull(),
    /** Milliseconds since the epoch when the window ends and the count starts again. */
    expiresAt: bigint("expires_at", { mode: "number" }).notNull(),
  },
  (t) => [index("login_attempts_expires_idx").on(t.expiresAt)],
);

export const pageState = pgTable(
  "page_state",
  {
    key: text("key").primaryKey(),
    kind: text("kind", { enum: ["shown_once", "kept_form"] }).notNull(),
    page: text("page").notNull(),
    data: text("data").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
  },
  (t) => [index("page_state_expires_idx").on(t.kind, t.expiresAt)],
);

export const pendingUploads = pgTable(
  "pending_uploads",
  {
    id: text("id").primaryKey(),
    kind: text("kind").notNull(),
    userId: bigint("user_id", { mode: "number" })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    bytes: bigint("bytes", { mode: "number" }).notNull(),
    expiresAt: timestamp("expires_at").notNull(),
  },
  (t) => [index("pending_uploads_expires_idx").on(t.expiresAt)],
);

export const pendingUploadChunks = pgTable(
  "pending_upload_chunks",
  {
    uploadId: text("upload_id")
      .notNull()
      .references(() => pendingUploads.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    data: bytea("data").notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.seq] })],
);

export const nodes = pgTable(
  "nodes",
  {
    id: text("id").primaryKey(),
    address: text("address").notNull(),
    version: text("version").notNull(),
    startedAt: timestamp("started_at").notNull(),
    lastSeenAt: timestamp("last_seen_at").notNull(),
    stoppedAt: timestamp("stopped_at"),
    activity: json("activity").notNull(),
    instance: text("instance"),
  },
  (t) => [index("nodes_last_seen_idx").on(t.lastSeenAt)],
);

export const scheduleRuns = pgTable(
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
    attempts: bigint("attempts", { mode: "number" }).notNull().default(1),
  },
  (t) => [
    primaryKey({ columns: [t.schedule, t.periodStart] }),
    index("schedule_runs_running_idx").on(t.outcome, t.leaseUntil),
    index("schedule_runs_started_idx").on(t.startedAt),
  ],
);

// delivery

/**
 * Durable delivery jobs. The claim path reads only `delivery_jobs_ready_idx` (pending, unblocked,
 * by destination and due time), so it stays an index seek however many rows wait. A job changes
 * status twice (claimed, finished) and every index keyed on status is rewritten each time, so only
 * small partial indexes are: the active jobs, and the failed ones (rare, and what admins look for).
 * Delivery ids are UUIDv7, so their index grows at its end like the others.
 */
export const deliveryJobs = pgTable(
  "delivery_jobs",
  {
    id: id("id"),
    kind: text("kind").notNull(),
    /** Who receives it, e.g. "webhook:3"; limits, health and pausing are per destination. */
    destination: text("destination").notNull(),
    /** Jobs sharing it run one at a time in id order when the destination is strict-order. */
    orderingKey: text("ordering_key"),
    payload: json("payload").notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull().default("pending"),
    /** 1 while an earlier job with the same ordering key is pending or running (strict order only). */
    blocked: boolean("blocked").notNull().default(false),
    /** Attempts made (numbers the HTTP log); some outcomes (pause, 202 "later") do not count as failures. */
    attempts: bigint("attempts", { mode: "number" }).notNull().default(0),
    /** Attempts that failed; the job fails for good when this reaches max_attempts. */
    failedAttempts: bigint("failed_attempts", { mode: "number" }).notNull().default(0),
    maxAttempts: bigint("max_attempts", { mode: "number" }).notNull(),
    runAt: timestamp("run_at").notNull(),
    leaseUntil: timestamp("lease_until"),
    /** The node holding the lease while running (--node-id); its lease ends at lease_until unless renewed. */
    leaseOwner: text("lease_owner"),
    /** Stable across retries and redeliveries: receivers use it to drop duplicates. */
    deliveryId: text("delivery_id").notNull(),
    /** Set on a redelivered copy: the job it was copied from. */
    redeliveryOf: bigint("redelivery_of", { mode: "number" }),
    lastError: text("last_error"),
    lastStatus: bigint("last_status", { mode: "number" }),
    createdAt: timestamp("created_at").notNull().default(now),
    updatedAt: timestamp("updated_at").notNull().default(now),
    finishedAt: timestamp("finished_at"),
  },
  (t) => [
    index("delivery_jobs_ready_idx").on(t.destination, t.runAt, t.id).where(sql`status = 'pending' AND NOT blocked`),
    index("delivery_jobs_ordering_idx")
      .on(t.orderingKey, t.id)
      .where(sql.raw(`ordering_key IS NOT NULL AND ${ACTIVE_JOB}`)),
    index("delivery_jobs_destination_idx").on(t.destination, t.id),
    index("delivery_jobs_active_idx").on(t.destination, t.status).where(sql.raw(ACTIVE_JOB)),
    index("delivery_jobs_running_idx").on(t.destination).where(sql.raw(RUNNING_JOB)),
    index("delivery_jobs_failed_idx").on(t.destination, t.id).where(sql`status = 'failed'`),
    index("delivery_jobs_delivery_id_idx").on(t.deliveryId),
  ],
);

/**
 * One row per destination (created on first enqueue): its options and its health. A disabled or
 * paused destination keeps its jobs queued until enableDestination().
 */
export const deliveryDestinations = pgTable("delivery_destinations", {
  key: text("key").primaryKey(),
  /** In-flight sends allowed at once; null = the engine default. */
  concurrency: bigint("concurrency", { mode: "number" }),
  strictOrder: boolean("strict_order").notNull().default(false),
  lastSuccessAt: timestamp("last_success_at"),
  lastFailureAt: timestamp("last_failure_at"),
  lastError: text("last_error"),
  /** First failure since the last success; null while healthy. */
  failingSince: timestamp("failing_since"),
  consecutiveFailures: bigint("consecutive_failures", { mode: "number" }).notNull().default(0),
  disabledAt: timestamp("disabled_at"),
  disabledReason: text("disabled_reason"),
  pausedAt: timestamp("paused_at"),
  /** Null with paused_at set: paused until an admin (or a key change) re-enables it. */
  pausedUntil: timestamp("paused_until"),
  pauseReason: text("pause_reason"),
  createdAt: timestamp("created_at").notNull().default(now),
});

/** Attempts per facility per 5-minute period (the dashboard's success rates and charts). */
export const deliveryAttemptCounts = pgTable(
  "delivery_attempt_counts",
  {
    facility: text("facility").notNull(),
    /** Start of the period, ms since the epoch. */
    periodStart: bigint("period_start", { mode: "number" }).notNull(),
    succeeded: bigint("succeeded", { mode: "number" }).notNull().default(0),
    failed: bigint("failed", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.facility, t.periodStart] })],
);

/** Every HTTP attempt, secrets redacted, bodies truncated; pruned by age and total size. */
export const httpLog = pgTable(
  "http_log",
  {
    id: id("id"),
    createdAt: timestamp("created_at").notNull(),
    facility: text("facility").notNull(),
    direction: text("direction", { enum: ["outbound", "inbound"] }).notNull(),
    method: text("method").notNull(),
    url: text("url").notNull(),
    requestHeaders: json("request_headers").notNull(),
    requestBody: text("request_body"),
    responseStatus: bigint("response_status", { mode: "number" }),
    responseHeaders: json("response_headers"),
    responseBody: text("response_body"),
    durationMs: bigint("duration_ms", { mode: "number" }).notNull(),
    error: text("error"),
    attempt: bigint("attempt", { mode: "number" }),
    deliveryId: text("delivery_id"),
    jobId: bigint("job_id", { mode: "number" }),
    destination: text("destination"),
    /** Approximate bytes this row stores, summed by size-based pruning. */
    sizeBytes: bigint("size_bytes", { mode: "number" }).notNull(),
  },
  (t) => [
    index("http_log_job_idx").on(t.jobId),
    index("http_log_delivery_idx").on(t.deliveryId),
    index("http_log_destination_idx").on(t.destination, t.id),
    index("http_log_facility_idx").on(t.facility, t.id),
  ],
);

// enrichment

/**
 * One row per email ever looked up: the cache that keeps an email from costing two calls within
 * the refresh interval, and the memory of emails the provider does not know.
 */
export const enrichmentLookups = pgTable(
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
export const userEnrichments = pgTable("user_enrichments", {
  userId: bigint("user_id", { mode: "number" })
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  provider: text("provider").notNull().default("clearbit"),
  email: text("email").notNull(),
  person: json("person"),
  company: json("company"),
  checkedAt: timestamp("checked_at").notNull(),
});

/** Segment Engage-style audiences: conditions over user fields and traits, shown as a boolean property. */
export const audiences = pgTable("audiences", {
  id: id("id"),
  name: text("name").notNull(),
  /** The snake_cased property name (order_completed_last_30days). */
  key: text("key").notNull().unique(),
  match: text("match", { enum: ["all", "any"] })
    .notNull()
    .default("all"),
  conditions: json("conditions").notNull(),
  createdAt: timestamp("created_at").notNull().default(now),
  updatedAt: timestamp("updated_at").notNull().default(now),
});

export const audienceMembers = pgTable(
  "audience_members",
  {
    audienceId: bigint("audience_id", { mode: "number" })
      .notNull()
      .references(() => audiences.id, { onDelete: "cascade" }),
    userId: bigint("user_id", { mode: "number" })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.audienceId, t.userId] }), index("audience_members_user_idx").on(t.userId)],
);

export const enrichmentRateCalls = pgTable(
  "enrichment_rate_calls",
  {
    seq: bigint("seq", { mode: "number" }).primaryKey(),
    at: bigint("at", { mode: "number" }).notNull(),
  },
  (t) => [index("enrichment_rate_calls_at_idx").on(t.at)],
);

// crm-sync

/** A CRM webhook sync (Deskpro's "Webhook Sync"): its calls, authentication and filter. */
export const crmSyncs = pgTable("crm_syncs", {
  id: id("id"),
  name: text("name").notNull(),
  enabled: boolean("enabled").notNull().default(true),
  authType: text("auth_type", { enum: ["none", "basic", "bearer"] })
    .notNull()
    .default("none"),
  authUsername: text("auth_username"),
  /** The basic-auth password or bearer token, encrypted (secrets.ts); never shown after saving. */
  authSecret: text("auth_secret"),
  /** Secret headers sent with every call (API keys): {name: sealed value}; shown masked, redacted in logs. */
  secretHeadersSealed: json("secret_headers_sealed"),
  /** The admin allowed URLs that point to this server itself (a loop risk, refused by default). */
  allowSelf: boolean("allow_self").notNull().default(false),
  filter: json("filter").notNull(),
  /** JSONPath read on the create response (jsonpath-plus), e.g. $.id; "" when the CRM returns none. */
  uniqueIdPath: text("unique_id_path").notNull().default(""),
  createOp: json("create_op").notNull(),
  updateOp: json("update_op").notNull(),
  deleteOp: json("delete_op").notNull(),
  /** The last "sync all existing users" run: its jobs are the ids in [first, last]; progress counts finished ones. */
  bulkFirstJobId: bigint("bulk_first_job_id", { mode: "number" }),
  bulkLastJobId: bigint("bulk_last_job_id", { mode: "number" }),
  bulkStartedAt: timestamp("bulk_started_at"),
  createdAt: timestamp("created_at").notNull().default(now),
  updatedAt: timestamp("updated_at").notNull().default(now),
});

/**
 * The person's record in the CRM, per (sync, user): the id read by the Unique ID Path, or why there
 * is none. Kept after the user is deleted until the CRM's delete succeeds (it addresses that id).
 */
export const crmSyncLinks = pgTable(
  "crm_sync_links",
  {
    syncId: bigint("sync_id", { mode: "number" })
      .notNull()
      .references(() => crmSyncs.id, { onDelete: "cascade" }),
    /** No foreign key: the link outlives the user row until the delete call succeeds. */
    userId: bigint("user_id", { mode: "number" }).notNull(),
    externalId: text("external_id"),
    /** Why updates cannot be sent (no path, path found nothing, create failed); null when linked or pending. */
    note: text("note"),
    createJobId: bigint("create_job_id", { mode: "number" }),
    userDeleted: boolean("user_deleted").notNull().default(false),
    createdAt: timestamp("created_at").notNull().default(now),
    updatedAt: timestamp("updated_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.syncId, t.userId] })],
);

/**
 * Calls that were planned but not sent (an update without an external id ...), with the reason: the
 * Logs tab shows them beside the HTTP log.
 */
export const crmSyncSkips = pgTable(
  "crm_sync_skips",
  {
    id: id("id"),
    syncId: bigint("sync_id", { mode: "number" })
      .notNull()
      .references(() => crmSyncs.id, { onDelete: "cascade" }),
    userId: bigint("user_id", { mode: "number" }).notNull(),
    operation: text("operation", { enum: ["create", "update", "delete"] }).notNull(),
    jobId: bigint("job_id", { mode: "number" }),
    reason: text("reason").notNull(),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [
    index("crm_sync_skips_sync_idx").on(t.syncId, t.id),
    index("crm_sync_skips_user_idx").on(t.syncId, t.userId, t.id),
  ],
);

// webhooks

/**
 * Outgoing webhook endpoints. Secret columns hold values sealed by ctx.secrets (never plain text):
 * the optional signature token (X-Hub-Signature), the Standard Webhooks secret (whsec_…) and, during
 * a rotation, the previous one with the time it stops signing; the basic-auth password or bearer token.
 */
export const webhooks = pgTable("webhooks", {
  id: id("id"),
  name: text("name").notNull(),
  url: text("url").notNull(),
  method: text("method", { enum: WEBHOOK_METHODS }).notNull().default("POST"),
  signatureTokenSealed: text("signature_token_sealed"),
  signingSecretSealed: text("signing_secret_sealed").notNull(),
  previousSecretSealed: text("previous_secret_sealed"),
  previousSecretExpiresAt: timestamp("previous_secret_expires_at"),
  tlsVerify: boolean("tls_verify").notNull().default(true),
  timeoutSeconds: bigint("timeout_seconds", { mode: "number" }).notNull().default(15),
  /** Extra request headers, sent as given (ours win on a clash). */
  headers: json("headers").notNull().default("{}"),
  /** Secret extra headers (API keys): {name: sealed value}; shown masked, redacted in logs. */
  secretHeadersSealed: json("secret_headers_sealed"),
  /** The admin allowed a URL that points to this server itself (a loop risk, refused by default). */
  allowSelf: boolean("allow_self").notNull().default(false),
  authType: text("auth_type", { enum: AUTH_TYPES }).notNull().default("none"),
  authUsername: text("auth_username"),
  authSecretSealed: text("auth_secret_sealed"),
  active: boolean("active").notNull().default(true),
  note: text("note"),
  /** A mustache JSON template; null sends the default (Zammad-shaped) payload. */
  customPayload: text("custom_payload"),
  zammadCompat: boolean("zammad_compat").notNull().default(false),
  strictOrder: boolean("strict_order").notNull().default(false),
  maxAttempts: bigint("max_attempts", { mode: "number" }).notNull().default(5),
  /** First retry after this long; later ones back off (×6 each, capped at 6 h). */
  retryBaseSeconds: bigint("retry_base_seconds", { mode: "number" }).notNull().default(30),
  createdAt: timestamp("created_at").notNull().default(now),
  updatedAt: timestamp("updated_at").notNull().default(now),
  createdById: bigint("created_by_id", { mode: "number" }),
  updatedById: bigint("updated_by_id", { mode: "number" }),
});

/** Triggers: which events, under which conditions, go to which webhooks. */
export const webhookTriggers = pgTable("webhook_triggers", {
  id: id("id"),
  name: text("name").notNull(),
  active: boolean("active").notNull().default(true),
  events: json("events").notNull(),
  /** "all": every condition must hold; "any": one is enough. No conditions: always. */
  match: text("match", { enum: ["all", "any"] })
    .notNull()
    .default("all"),
  conditions: json("conditions").notNull().default("[]"),
  note: text("note"),
  createdAt: timestamp("created_at").notNull().default(now),
  updatedAt: timestamp("updated_at").notNull().default(now),
  createdById: bigint("created_by_id", { mode: "number" }),
  updatedById: bigint("updated_by_id", { mode: "number" }),
});

export const webhookTriggerTargets = pgTable(
  "webhook_trigger_targets",
  {
    triggerId: bigint("trigger_id", { mode: "number" })
      .notNull()
      .references(() => webhookTriggers.id, { onDelete: "cascade" }),
    webhookId: bigint("webhook_id", { mode: "number" })
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
export const webhookPayloads = pgTable("webhook_payloads", {
  id: id("id"),
  data: text("data").notNull(),
  createdAt: timestamp("created_at").notNull().default(now),
});
