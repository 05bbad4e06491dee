import type { PersonFields } from "../domain/person-fields";
import { asc, desc, eq } from "drizzle-orm";
import type { DbOrTx } from "../db/client";
import { articles, organizations, tickets, users } from "../db/schema";
import { listCustomFields, type CustomField } from "../domain/custom-fields";
import { getGroupRow, groupJson } from "../domain/groups";
import { organizationJson } from "../domain/organizations";
import { ROLE_IDS } from "../domain/roles";
import { articleJson, PRIORITIES, STATES, ticketJson } from "../domain/tickets";
import { userJson } from "../domain/users";
import type { ChangeEvent } from "../events/feed";
type Json = Record<string, unknown>;

/** Never sent in an embedded user (Zammad's rule): credentials, preferences, internal access lists. Names, not our
 * column list: it also hides what other Zammad-shaped objects may carry. */
const HIDDEN_USER_FIELDS = [
  "password",
  "password_hash",
  "preferences",
  "login_failed",
  "last_login",
  "group_ids",
  "groups",
  "authorization_ids",
  "authorizations",
];

export type PayloadOptions = { publicUrl: string; personFields: PersonFields };

/**
 * Builds the default payloads, shaped like Zammad's: ticket events send `ticket` (with its people,
 * organization, group, priority and state embedded) and `article` (attachments as links); user and
 * organization events send the object with its relations. Every payload also carries `event`.
 */
export class PayloadBuilder {
  private userFields: CustomField[] | undefined;
  private readonly logins = new Map<number, string>();
  /** Users embedded more than once (a person's creator is often its updater too) are read once. */
  private readonly embedded = new Map<number, Promise<Json | null>>();

  constructor(
    private readonly db: DbOrTx,
    private readonly opts: PayloadOptions,
  ) {}

  async forEvent(event: ChangeEvent): Promise<Json> {
    const meta = { event: eventMeta(event) };
    const deleted = event.type.endsWith(".deleted");
    switch (event.objectType) {
      case "ticket":
        return deleted
          ? { ticket: { id: event.objectId, ...oldValues(event) }, article: null, ...meta }
          : { ...(await this.ticketAndArticle(event.objectId, null)), ...meta };
      case "article": {
        const row = (
          await this.db
            .select({ ticketId: articles.ticketId })
            .from(articles)
            .where(eq(articles.id, event.objectId))
            .limit(1)
        )[0];
        return row
          ? { ...(await this.ticketAndArticle(row.ticketId, event.objectId)), ...meta }
          : { article: { id: event.objectId, ...oldValues(event) }, ...meta };
      }
      case "user":
        return deleted
          ? { user: stripHidden({ id: event.objectId, ...oldValues(event) }), organization: null, ...meta }
          : { ...(await this.userWithRelations(event.objectId)), ...meta };
      case "organization":
        return deleted
          ? { organization: { id: event.objectId, ...oldValues(event) }, ...meta }
          : { organization: await this.organization(event.objectId), ...meta };
      case "group":
        return deleted
          ? { group: { id: event.objectId }, ...meta }
          : { group: await this.group(event.objectId), ...meta };
      default:
        return { [event.objectType]: { id: event.objectId, ...newValues(event) }, ...meta };
    }
  }

  /** The ticket with its relations, and one article: the given one, else the newest (or null). */
  async ticketAndArticle(ticketId: number, articleId: number | null): Promise<Json> {
    const row = (await this.db.select().from(tickets).where(eq(tickets.id, ticketId)).limit(1))[0];
    if (!row) return { ticket: { id: ticketId }, article: null };
    const t = await ticketJson(this.db, row);
    const ticket = {
      ...t,
      state: { id: t.state_id, name: STATES[t.state_id - 1], active: true },
      priority: {
        id: t.priority_id,
        name: PRIORITIES[t.priority_id - 1],
        active: true,
        default_create: t.priority_id === 2,
      },
      created_by: await this.user(t.created_by_id),
      updated_by: await this.user(t.updated_by_id),
      customer: await this.user(t.customer_id),
      owner: await this.user(t.owner_id),
      organization: t.organization_id ? await this.organization(t.organization_id) : null,
      group: t.group_id ? await this.group(t.group_id) : null,
    };
    const a = articleId
      ? (await this.db.select().from(articles).where(eq(articles.id, articleId)).limit(1))[0]
      : await this.articleAt(ticketId, "latest");
    return { ticket, article: a ? await this.article(a) : null };
  }

  async firstArticle(ticketId: number): Promise<Json | null> {
    const a = await this.articleAt(ticketId, "first");
    return a ? await this.article(a) : null;
  }

  private async articleAt(ticketId: number, which: "first" | "latest") {
    return (
      await this.db
        .select()
        .from(articles)
        .where(eq(articles.ticketId, ticketId))
        .orderBy(which === "first" ? asc(articles.id) : desc(articles.id))
        .limit(1)
    )[0];
  }

  private async article(row: typeof articles.$inferSelect): Promise<Json> {
    const a = await articleJson(this.db, row);
    return {
      ...a,
      // Links, never contents: fetching one needs an API token.
      attachments: a.attachments.map((f) => ({
        id: f.id,
        filename: f.filename,
        size: String(f.size),
        preferences: { "Content-Type": f.content_type, "Mime-Type": f.content_type },
        url: this.opts.publicUrl.replace(/\/$/, "") + f.url,
      })),
      origin_by: a.origin_by_id ? await this.login(a.origin_by_id) : null,
      created_by: await this.user(a.created_by_id),
      updated_by: await this.user(a.updated_by_id),
    };
  }

  /**
   * A user as embedded in payloads: the API's user JSON (extra fields included), no
   * hidden fields, creator and updater by login.
   */
  async user(userId: number | null): Promise<Json | null> {
    if (userId === null) return null;
    let user = this.embedded.get(userId);
    if (!user) this.embedded.set(userId, (user = this.readUser(userId)));
    return await user;
  }

  private async readUser(userId: number): Promise<Json | null> {
    const row = (await this.db.select().from(users).where(eq(users.id, userId)).limit(1))[0];
    if (!row) return null;
    this.logins.set(row.id, row.login);
    this.userFields ??= await listCustomFields(this.db, "user");
    const u = stripHidden(await userJson(this.db, this.opts.personFields, row, this.userFields));
    return { ...u, created_by: await this.login(row.createdById), updated_by: await this.login(row.updatedById) };
  }

  async userWithRelations(userId: number): Promise<Json> {
    const u = await this.user(userId);
    if (!u) return { user: { id: userId }, organization: null };
    const orgId = u.organization_id as number | null;
    return {
      user: {
        ...u,
        created_by: await this.user(u.created_by_id as number | null),
        updated_by: await this.user(u.updated_by_id as number | null),
      },
      organization: orgId ? await this.organization(orgId) : null,
    };
  }

  async organization(orgId: number): Promise<Json | null> {
    const row = (await this.db.select().from(organizations).where(eq(organizations.id, orgId)).limit(1))[0];
    if (!row) return null;
    const o = await organizationJson(this.db, row);
    return {
      ...o,
      members: await Promise.all(o.member_ids.map((id) => this.login(id))),
      created_by: await this.login(row.createdById),
      updated_by: await this.login(row.updatedById),
    };
  }

  async group(groupId: number): Promise<Json | null> {
    try {
      const row = await getGroupRow(this.db, groupId);
      return {
        ...(await groupJson(this.db, row)),
        created_by: await this.login(row.createdById),
        updated_by: await this.login(row.updatedById),
      };
    } catch {
      return null;
    }
  }

  /** Zammad names creators by login, "-" for the system. */
  private async login(userId: number | null): Promise<string> {
    if (userId === null) return "-";
    let login = this.logins.get(userId);
    if (login === undefined) {
      login =
        (await this.db.select({ login: users.login }).from(users).where(eq(users.id, userId)).limit(1))[0]?.login ??
        "-";
      this.logins.set(userId, login);
    }
    return login;
  }
}

export function stripHidden(user: Json): Json {
  const out = { ...user };
  for (const k of HIDDEN_USER_FIELDS) delete out[k];
  return out;
}

function eventMeta(e: ChangeEvent): Json {
  const changes = e.objectType === "user" ? stripHidden(e.changes) : e.changes;
  return {
    id: e.id,
    type: e.type,
    object_type: e.objectType,
    object_id: e.objectId,
    changes,
    source: e.source,
    actor_id: e.actorId,
    created_at: e.createdAt.toISOString(),
  };
}

const oldValues = (e: ChangeEvent): Json => Object.fromEntries(Object.entries(e.changes).map(([k, [old]]) => [k, old]));
const newValues = (e: ChangeEvent): Json => Object.fromEntries(Object.entries(e.changes).map(([k, [, v]]) => [k, v]));

/** Sample records for previews, validation of custom payloads and test sends: names that are hard to escape. */
export function samplePayload(
  kind: "ticket" | "user" | "organization" = "ticket",
  publicUrl = "http://switchboard.local",
): Json {
  const at = "2020-11-13T14:34:35.282Z";
  // Who created and last changed a sample record (an id and its name, or the record itself), and when.
  const stamped = (byId: number, by: unknown) => ({
    created_at: at,
    updated_at: at,
    created_by_id: byId,
    updated_by_id: byId,
    created_by: by,
    updated_by: by,
  });
  const org = {
    id: 3,
    name: 'Awesome "Customer" Inc.',
    domain: "example.com",
    domain_assignment: false,
    shared: true,
    note: "Global distributor\nof café \\ crème",
    active: true,
    member_ids: [8],
    members: ["emily@example.com"],
    member_count: 1,
    ...stamped(1, "-"),
  };
  const user = {
    id: 8,
    login: "emily@example.com",
    email: "emily@example.com",
    firstname: 'Emily "Em"',
    lastname: "O'Brien-Ünal \\ ☕",
    phone: "0061 2 1234 7777",
    mobile: null,
    address: "Bennelong Point\nSydney NSW 2000",
    web: null,
    note: "did order café au lait",
    image: null,
    organization_id: 3,
    organization: org.name,
    vip: false,
    verified: false,
    out_of_office: false,
    timezone: null,
    last_seen_at: null,
    active: true,
    role_ids: [ROLE_IDS.Customer],
    roles: ["Customer"],
    traits: {},
    ...stamped(1, "-"),
  };
  const agent = {
    ...user,
    id: 5,
    login: "emma@example.com",
    email: "emma@example.com",
    firstname: "Emma",
    lastname: "Taylor",
    address: null,
    note: null,
    role_ids: [ROLE_IDS.Agent],
    roles: ["Agent"],
  };
  const event = (type: string, objectType: string, objectId: number) => ({
    id: 1,
    type,
    object_type: objectType,
    object_id: objectId,
    changes: {},
    source: "ui",
    actor_id: 5,
    created_at: at,
  });
  if (kind === "user") return { user, organization: org, event: event("user.updated", "user", 8) };
  if (kind === "organization") return { organization: org, event: event("organization.updated", "organization", 3) };
  const ticket = {
    id: 81,
    number: "10081",
    title: 'Webhook "test" \\ ünïcödé\nsecond line',
    state_id: 2,
    state: { id: 2, name: "open", active: true },
    priority_id: 2,
    priority: { id: 2, name: "2 normal", active: true, default_create: true },
    group_id: 3,
    customer_id: 8,
    owner_id: 5,
    organization_id: 3,
    article_count: 1,
    article_ids: [104],
    create_article_type: "phone",
    create_article_sender: "Customer",
    last_contact_at: at,
    last_contact_customer_at: at,
    last_contact_agent_at: null,
    close_at: null,
    active: true,
    ...stamped(5, agent),
    customer: user,
    owner: agent,
    organization: org,
    group: {
      id: 3,
      name: "Service Desk",
      note: null,
      active: true,
      user_ids: [5],
      users: ["emma@example.com"],
      ...stamped(1, "-"),
    },
  };
  const article = {
    id: 104,
    ticket_id: 81,
    from: 'Emily "Em" <emily@example.com>',
    to: "Service Desk",
    subject: null,
    type: "phone",
    sender: "Customer",
    content_type: "text/html",
    body: 'This is a simple Webhook Test.<div><br></div>\n<img src="/x">',
    internal: false,
    origin_by_id: 8,
    origin_by: "emily@example.com",
    attachments: [
      {
        id: 174,
        filename: "image1.jpeg",
        size: "35574",
        preferences: { "Content-Type": "image/jpeg", "Mime-Type": "image/jpeg" },
        url: `${publicUrl.replace(/\/$/, "")}/api/v1/attachments/174`,
      },
    ],
    ...stamped(5, agent),
  };
  return { ticket, article, event: event("ticket.created", "ticket", 81) };
}
