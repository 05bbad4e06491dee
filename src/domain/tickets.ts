import { and, asc, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { dialectOf, type Db, type Tx, type DbOrTx } from "../db/client";
import type { Dialect } from "../db/dialect";
import { articles, attachments, groups, tickets, users } from "../db/schema";
import { notFound, validate, ValidationError } from "../errors";
import type { Actor, EventFeed } from "../events/feed";
import { organizationNames } from "./organizations";
import { describeUsers } from "./users";
import {
  afterCursor,
  countUpTo,
  decodeCursor,
  diff,
  id,
  isoOrNull,
  DEFAULT_PAGE_SIZE,
  pageOf,
  type ListQuery,
  type Page,
} from "./records";

export type TicketRow = typeof tickets.$inferSelect;
export type ArticleRow = typeof articles.$inferSelect;

export const STATES = ["new", "open", "pending", "closed"] as const;
export const PRIORITIES = ["1 low", "2 normal", "3 high"] as const;
const CLOSED_STATE_ID = 4;
/** Human ticket numbers start here (Zammad's look: 10081). */
const NUMBER_BASE = 10_000;

const attachmentInput = z.strictObject({
  filename: z
    .string()
    .trim()
    .min(1)
    .max(255)
    .refine((f) => !/[/\\\0]/.test(f), "must be a plain file name"),
  content_type: z
    .string()
    .trim()
    .max(255)
    .regex(/^[\w.+-]+\/[\w.+-]+$/, "must be a MIME type such as image/png")
    .optional()
    .default("application/octet-stream"),
  data: z.base64("must be base64").max(50_000_000),
});

const articleShape = {
  from: z.string().trim().max(1000).optional(),
  to: z.string().trim().max(1000).optional(),
  subject: z.string().trim().max(1000).optional(),
  type: z.enum(["email", "phone", "web", "note"]).optional().default("note"),
  sender: z.enum(["Customer", "Agent", "System"]).optional().default("Agent"),
  content_type: z.enum(["text/plain", "text/html"]).optional().default("text/plain"),
  body: z.string().min(1, "is required").max(1_000_000, "must be at most 1,000,000 characters"),
  internal: z.boolean().optional().default(false),
  attachments: z.array(attachmentInput).max(50).optional().default([]),
};
const articleInput = z.strictObject(articleShape);
export const newArticleInput = z.strictObject({ ticket_id: id, ...articleShape });

const ticketShape = {
  title: z.string().trim().min(1, "is required").max(250, "must be at most 250 characters").optional(),
  state_id: z.number().int().min(1).max(STATES.length).optional(),
  state: z.enum(STATES).optional(),
  priority_id: z.number().int().min(1).max(PRIORITIES.length).optional(),
  priority: z.enum(PRIORITIES).optional(),
  group_id: id.nullable().optional(),
  customer_id: id.optional(),
  /** The customer by email, as Zammad accepts it. */
  customer: z.string().trim().toLowerCase().email("must be an email address").optional(),
  owner_id: id.nullable().optional(),
};
export const newTicketInput = z.strictObject({ ...ticketShape, article: articleInput.optional() });
export const ticketUpdateInput = z.strictObject(ticketShape);

export type TicketJson = Awaited<ReturnType<typeof ticketJson>>;

export async function ticketJson(db: DbOrTx, t: TicketRow) {
  const articleIds = (
    await db.select({ id: articles.id }).from(articles).where(eq(articles.ticketId, t.id)).orderBy(asc(articles.id))
  ).map((a) => a.id);
  return {
    id: t.id,
    number: t.number,
    title: t.title,
    state_id: t.stateId,
    state: STATES[t.stateId - 1]!,
    priority_id: t.priorityId,
    priority: PRIORITIES[t.priorityId - 1]!,
    group_id: t.groupId,
    customer_id: t.customerId,
    owner_id: t.ownerId,
    organization_id: t.organizationId,
    article_count: t.articleCount,
    article_ids: articleIds,
    create_article_type: t.createArticleType,
    create_article_sender: t.createArticleSender,
    last_contact_at: isoOrNull(t.lastContactAt),
    last_contact_customer_at: isoOrNull(t.lastContactCustomerAt),
    last_contact_agent_at: isoOrNull(t.lastContactAgentAt),
    close_at: isoOrNull(t.closedAt),
    active: t.active,
    created_at: t.createdAt.toISOString(),
    updated_at: t.updatedAt.toISOString(),
    created_by_id: t.createdById,
    updated_by_id: t.updatedById,
  };
}

export async function articleJson(db: DbOrTx, a: ArticleRow) {
  const files = await db
    .select({
      id: attachments.id,
      filename: attachments.filename,
      size: attachments.size,
      contentType: attachments.contentType,
    })
    .from(attachments)
    .where(eq(attachments.articleId, a.id))
    .orderBy(asc(attachments.id));
  return {
    id: a.id,
    ticket_id: a.ticketId,
    from: a.from,
    to: a.to,
    subject: a.subject,
    type: a.type,
    sender: a.sender,
    content_type: a.contentType,
    body: a.body,
    internal: a.internal,
    origin_by_id: a.originById,
    /** Links, never contents (Zammad's rule); fetching one needs authentication. */
    attachments: files.map((f) => ({
      id: f.id,
      filename: f.filename,
      size: f.size,
      content_type: f.contentType,
      url: `/api/v1/attachments/${f.id}`,
    })),
    created_at: a.createdAt.toISOString(),
    updated_at: a.updatedAt.toISOString(),
    created_by_id: a.createdById,
    updated_by_id: a.updatedById,
  };
}

async function getTicketRow(db: DbOrTx, ticketId: number): Promise<TicketRow> {
  const row = (await db.select().from(tickets).where(eq(tickets.id, ticketId)).limit(1))[0];
  if (!row) throw notFound("ticket");
  return row;
}

/** Ticket input in column terms: names resolved to ids, references checked, organization from the customer. */
/** Whether a ticket's reference (its group, its owner) names a row that exists. */
async function rowExists(tx: Tx, table: typeof groups | typeof users, id: number): Promise<boolean> {
  return (await tx.select({ id: table.id }).from(table).where(eq(table.id, id)).limit(1)).length > 0;
}

async function resolveTicket(tx: Tx, d: z.infer<typeof ticketUpdateInput>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  if (d.title !== undefined) out.title = d.title;
  const stateId = d.state_id ?? (d.state ? STATES.indexOf(d.state) + 1 : undefined);
  if (stateId !== undefined) out.state_id = stateId;
  const priorityId = d.priority_id ?? (d.priority ? PRIORITIES.indexOf(d.priority) + 1 : undefined);
  if (priorityId !== undefined) out.priority_id = priorityId;
  if (d.group_id !== undefined) {
    if (d.group_id !== null && !(await rowExists(tx, groups, d.group_id)))
      throw new ValidationError([{ field: "group_id", message: "no such group" }]);
    out.group_id = d.group_id;
  }
  let customerId = d.customer_id;
  if (d.customer) {
    const c = (await tx.select({ id: users.id }).from(users).where(eq(users.email, d.customer)).limit(1))[0];
    if (!c) throw new ValidationError([{ field: "customer", message: "no user with this email" }]);
    customerId = c.id;
  }
  if (customerId !== undefined) {
    const c = (
      await tx
        .select({ id: users.id, organizationId: users.organizationId })
        .from(users)
        .where(eq(users.id, customerId))
        .limit(1)
    )[0];
    if (!c) throw new ValidationError([{ field: "customer_id", message: "no such user" }]);
    out.customer_id = c.id;
    out.organization_id = c.organizationId;
  }
  if (d.owner_id !== undefined) {
    if (d.owner_id !== null && !(await rowExists(tx, users, d.owner_id)))
      throw new ValidationError([{ field: "owner_id", message: "no such user" }]);
    out.owner_id = d.owner_id;
  }
  return out;
}

const TICKET_COLUMNS = {
  title: "title",
  state_id: "stateId",
  priority_id: "priorityId",
  group_id: "groupId",
  customer_id: "customerId",
  owner_id: "ownerId",
  organization_id: "organizationId",
} as const;

function toColumns(values: Record<string, unknown>): Partial<TicketRow> {
  const set: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values))
    if (k in TICKET_COLUMNS) set[TICKET_COLUMNS[k as keyof typeof TICKET_COLUMNS]] = v;
  return set as Partial<TicketRow>;
}

function snapshot(t: TicketRow): Record<string, unknown> {
  return {
    title: t.title,
    state_id: t.stateId,
    priority_id: t.priorityId,
    group_id: t.groupId,
    customer_id: t.customerId,
    owner_id: t.ownerId,
    organization_id: t.organizationId,
  };
}

export async function createTicket(db: Db, feed: EventFeed, input: unknown, actor: Actor) {
  const d = validate(newTicketInput, input);
  if (!d.title) throw new ValidationError([{ field: "title", message: "is required" }]);
  if (d.customer_id === undefined && !d.customer)
    throw new ValidationError([{ field: "customer_id", message: "is required (or customer: an email)" }]);
  return await db.transaction(async (tx) => {
    const values = { state_id: 1, priority_id: 2, ...(await resolveTicket(tx, d)) };
    const now = new Date();
    const row = (
      await tx
        .insert(tickets)
        .values({
          number: `pending-${crypto.randomUUID()}`,
          ...(toColumns(values) as { title: string; stateId: number; priorityId: number; customerId: number }),
          closedAt: values.state_id === CLOSED_STATE_ID ? now : null,
          createdById: actor.id,
          updatedById: actor.id,
        })
        .returning()
    )[0]!;
    const numbered = (
      await tx
        .update(tickets)
        .set({ number: String(NUMBER_BASE + row.id) })
        .where(eq(tickets.id, row.id))
        .returning()
    )[0]!;
    await feed.record(tx, {
      type: "ticket.created",
      objectType: "ticket",
      objectId: row.id,
      changes: diff({}, { number: numbered.number, ...values }),
      actor,
    });
    const article = d.article ? await addArticleIn(tx, feed, numbered, d.article, actor) : null;
    const ticket = await getTicketRow(tx, row.id);
    return { ticket: await ticketJson(tx, ticket), article: article && (await articleJson(tx, article)) };
  });
}

export async function updateTicket(db: Db, feed: EventFeed, ticketId: number, input: unknown, actor: Actor) {
  const d = validate(ticketUpdateInput, input);
  return await db.transaction(async (tx) => {
    const before = await getTicketRow(tx, ticketId);
    const changes = diff(snapshot(before), await resolveTicket(tx, d));
    if (!Object.keys(changes).length) return ticketJson(tx, before);
    const set = toColumns(Object.fromEntries(Object.entries(changes).map(([k, [, v]]) => [k, v])));
    if (changes.state_id) set.closedAt = changes.state_id[1] === CLOSED_STATE_ID ? new Date() : null;
    const row = (
      await tx
        .update(tickets)
        .set({ ...set, updatedAt: new Date(), updatedById: actor.id })
        .where(eq(tickets.id, ticketId))
        .returning()
    )[0]!;
    await feed.record(tx, { type: "ticket.updated", objectType: "ticket", objectId: ticketId, changes, actor });
    return ticketJson(tx, row);
  });
}

export async function deleteTicket(db: Db, feed: EventFeed, ticketId: number, actor: Actor): Promise<void> {
  await db.transaction(async (tx) => {
    const before = await getTicketRow(tx, ticketId);
    await tx.delete(tickets).where(eq(tickets.id, ticketId));
    await feed.record(tx, {
      type: "ticket.deleted",
      objectType: "ticket",
      objectId: ticketId,
      changes: Object.fromEntries(
        Object.entries({ number: before.number, ...snapshot(before) }).map(([k, v]) => [k, [v, null]]),
      ),
      actor,
    });
  });
}

export async function getTicket(db: Db, ticketId: number) {
  return await ticketJson(db, await getTicketRow(db, ticketId));
}

/** Adds an article; the ticket's counters and contact times move with it (ticket.updated). */
async function addArticleIn(
  tx: Tx,
  feed: EventFeed,
  ticket: TicketRow,
  d: z.infer<typeof articleInput>,
  actor: Actor,
): Promise<ArticleRow> {
  const origin = d.sender === "Customer" ? ticket.customerId : actor.id;
  const article = (
    await tx
      .insert(articles)
      .values({
        ticketId: ticket.id,
        from: d.from ?? null,
        to: d.to ?? null,
        subject: d.subject ?? null,
        type: d.type,
        sender: d.sender,
        contentType: d.content_type,
        body: d.body,
        internal: d.internal,
        originById: origin,
        createdById: actor.id,
        updatedById: actor.id,
      })
      .returning()
  )[0]!;
  for (const a of d.attachments) {
    const data = Buffer.from(a.data, "base64");
    await tx.insert(attachments).values({
      articleId: article.id,
      filename: a.filename,
      size: data.length,
      contentType: a.content_type,
      sha256: new Bun.CryptoHasher("sha256").update(data).digest("hex"),
      data,
    });
  }
  const now = article.createdAt;
  const set: Partial<TicketRow> = {
    articleCount: ticket.articleCount + 1,
    updatedAt: new Date(),
    updatedById: actor.id,
  };
  if (ticket.articleCount === 0) Object.assign(set, { createArticleType: d.type, createArticleSender: d.sender });
  if (!d.internal) {
    set.lastContactAt = now;
    if (d.sender === "Customer") set.lastContactCustomerAt = now;
    if (d.sender === "Agent") set.lastContactAgentAt = now;
  }
  await tx.update(tickets).set(set).where(eq(tickets.id, ticket.id));
  await feed.record(tx, {
    type: "article.created",
    objectType: "article",
    objectId: article.id,
    changes: {
      ticket_id: [null, ticket.id],
      type: [null, d.type],
      sender: [null, d.sender],
      internal: [null, d.internal],
    },
    actor,
  });
  await feed.record(tx, {
    type: "ticket.updated",
    objectType: "ticket",
    objectId: ticket.id,
    changes: { article_count: [ticket.articleCount, ticket.articleCount + 1] },
    actor,
  });
  return article;
}

export async function createArticle(db: Db, feed: EventFeed, input: unknown, actor: Actor) {
  const { ticket_id, ...d } = validate(newArticleInput, input);
  return await db.transaction(async (tx) =>
    articleJson(tx, await addArticleIn(tx, feed, await getTicketRow(tx, ticket_id), d, actor)),
  );
}

export async function listArticles(db: Db, ticketId: number) {
  await getTicketRow(db, ticketId);
  const rows = await db.select().from(articles).where(eq(articles.ticketId, ticketId)).orderBy(asc(articles.id));
  return Promise.all(rows.map((a) => articleJson(db, a)));
}

export async function getArticle(db: Db, articleId: number) {
  const row = (await db.select().from(articles).where(eq(articles.id, articleId)).limit(1))[0];
  if (!row) throw notFound("article");
  return articleJson(db, row);
}

export async function getAttachment(db: Db, attachmentId: number) {
  const row = (await db.select().from(attachments).where(eq(attachments.id, attachmentId)).limit(1))[0];
  if (!row) throw notFound("attachment");
  return row;
}

/** A tickets listing, typed: the API parses its query string into this. */
export type TicketListQuery = Omit<ListQuery<never>, "sort"> & {
  state?: (typeof STATES)[number];
  customer_id?: number;
  owner_id?: number;
  organization_id?: number;
  group_id?: number;
  q?: string;
};

type TicketFilter = Omit<TicketListQuery, "order" | "cursor" | "limit">;

/** The conditions of a tickets listing's filters and search (without its cursor). */
function ticketFilter(dialect: Dialect, p: TicketFilter): SQL[] {
  const conds: SQL[] = [];
  const q = p.q?.trim();
  if (p.state) conds.push(eq(tickets.stateId, STATES.indexOf(p.state) + 1));
  if (p.customer_id) conds.push(eq(tickets.customerId, p.customer_id));
  if (p.owner_id) conds.push(eq(tickets.ownerId, p.owner_id));
  if (p.organization_id) conds.push(eq(tickets.organizationId, p.organization_id));
  if (p.group_id) conds.push(eq(tickets.groupId, p.group_id));
  if (q) {
    const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conds.push(sql`(${dialect.likeInsensitive(tickets.title, pattern)} OR ${tickets.number} = ${q})`);
  }
  return conds;
}

/** How many tickets a listing's filters and search match. */
export async function countTickets(db: Db, query: TicketFilter) {
  const conds = ticketFilter(dialectOf(db), query);
  return countUpTo(db, tickets, conds.length ? and(...conds) : undefined);
}

/** Tickets, newest first by default, with keyset pagination on the id. */
export async function listTickets(db: Db, query: TicketListQuery): Promise<Page<TicketJson>> {
  const p = { ...query, limit: query.limit ?? DEFAULT_PAGE_SIZE, order: query.order ?? "desc" };
  const conds = ticketFilter(dialectOf(db), p);
  const descending = p.order === "desc";
  if (p.cursor) conds.push(afterCursor([sql`${tickets.id}`], decodeCursor(p.cursor, 1), descending));
  const rows = await db
    .select()
    .from(tickets)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(descending ? desc(tickets.id) : asc(tickets.id))
    .limit(p.limit + 1);
  const page = pageOf(rows, p.limit, (last) => [last.id]);
  return { data: await Promise.all(page.data.map((t) => ticketJson(db, t))), next_cursor: page.next_cursor };
}

/** Names for display: the lookups and the people and groups a set of tickets refers to. */
export async function ticketLookups(db: Db, rows: TicketJson[]) {
  const userIds = rows.flatMap((t) => [t.customer_id, t.owner_id]);
  const groupIds = [...new Set(rows.map((t) => t.group_id).filter((x): x is number => x !== null))];
  return {
    users: await describeUsers(db, userIds),
    organizations: await organizationNames(
      db,
      rows.map((t) => t.organization_id),
    ),
    groups: new Map(
      groupIds.length
        ? (await db.select({ id: groups.id, name: groups.name }).from(groups).where(inArray(groups.id, groupIds))).map(
            (g) => [g.id, g.name],
          )
        : [],
    ),
  };
}
