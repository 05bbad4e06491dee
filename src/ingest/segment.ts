import { and, eq, lt, ne, sql } from "drizzle-orm";
import { preparedFor } from "../db/prepared";
import { z } from "zod";
import type { Db, Tx } from "../db/client";
import { seenMessages, userRoles, users } from "../db/schema";
import { unstorableText } from "../clean-text";
import { AppError, ValidationError } from "../errors";
import type { Actor, EventFeed } from "../events/feed";
import { listCustomFields, type CustomField } from "../domain/custom-fields";
import { createOrganizationIn, findOrganizationByName } from "../domain/organizations";
import { CUSTOMER_ROLE_ID } from "../domain/roles";
import { createUserIn, findUsersByEmailOrLogin, parseUserInput, updateUserIn, type UserRow } from "../domain/users";

/**
 * Segment's HTTP Tracking API (identify, batch), applied to our people: the email is the join key,
 * userId becomes the login, well-known traits map onto user fields and the rest are kept as traits.
 * Write keys live in public web pages, so what a message may change is limited (see assertSegmentMayChange).
 */
export const MAX_CALL_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
const DEDUP_WINDOW_MS = 7 * 24 * 3600_000;

const id = z.union([z.string().trim().min(1).max(255), z.number().transform(String)]);
const timestamp = z.iso.datetime({ offset: true }).transform((v) => new Date(v));

const baseMessage = {
  userId: id.nullable().optional(),
  anonymousId: id.nullable().optional(),
  messageId: z.string().max(255).optional(),
  timestamp: timestamp.optional(),
  sentAt: timestamp.optional(),
  originalTimestamp: timestamp.optional(),
  receivedAt: timestamp.optional(),
  context: z.record(z.string(), z.unknown()).optional(),
  integrations: z.record(z.string(), z.unknown()).optional(),
  writeKey: z.string().optional(),
  version: z.unknown().optional(),
  _metadata: z.unknown().optional(),
  channel: z.string().optional(),
  type: z.string().optional(),
};
const traits = z.record(z.string().max(200), z.unknown());

const identifyMessage = z.object({ ...baseMessage, type: z.literal("identify").optional(), traits: traits.optional() });
const groupMessage = z.object({ ...baseMessage, type: z.literal("group"), groupId: id, traits: traits.optional() });
/** track, page, screen and alias only tell us the person was seen. */
const otherMessage = z.object({ ...baseMessage, type: z.enum(["track", "page", "screen", "alias"]) }).loose();

const message = z
  .discriminatedUnion("type", [identifyMessage.extend({ type: z.literal("identify") }), groupMessage, otherMessage])
  .refine((m) => m.userId || m.anonymousId, { message: "userId or anonymousId is required", path: ["userId"] });
type Message = z.infer<typeof message>;

export const batchCall = z.object({
  batch: z.array(z.unknown()).min(1, "must hold at least one message").max(2000),
  writeKey: z.string().optional(),
  sentAt: z.unknown().optional(),
  context: z.unknown().optional(),
  metadata: z.unknown().optional(),
});

const str = (v: unknown): string | undefined =>
  typeof v === "string" && v.trim() ? v.trim() : typeof v === "number" ? String(v) : undefined;

/** Well-known traits as user fields; everything else stays a trait. */
export function mapTraits(input: Record<string, unknown>): {
  fields: Record<string, unknown>;
  rest: Record<string, unknown>;
  company?: string;
} {
  const t = { ...input };
  const take = (...keys: string[]) => {
    let found: string | undefined;
    for (const k of keys) {
      found ??= str(t[k]);
      delete t[k];
    }
    return found;
  };
  const fields: Record<string, unknown> = {};
  const email = take("email");
  if (email) fields.email = email;
  let first = take("firstName", "first_name", "firstname");
  let last = take("lastName", "last_name", "lastname");
  const name = take("name");
  if (name && !first && !last) {
    const parts = name.split(/\s+/);
    first = parts.shift();
    last = parts.join(" ") || undefined;
  }
  if (first) fields.firstname = first;
  if (last) fields.lastname = last;
  const phone = take("phone");
  if (phone) fields.phone = phone;
  const website = take("website", "web");
  if (website) fields.web = website;
  const avatar = take("avatar");
  if (avatar) fields.image = avatar;
  const address = t.address;
  delete t.address;
  if (typeof address === "string" && address.trim()) fields.address = address.trim();
  else if (address && typeof address === "object") {
    const a = address as Record<string, unknown>;
    const line = [
      str(a.street),
      [str(a.postalCode) ?? str(a.postal_code), str(a.city)].filter(Boolean).join(" "),
      str(a.state),
      str(a.country),
    ]
      .filter(Boolean)
      .join("\n");
    if (line) fields.address = line;
  }
  let company: string | undefined;
  if (t.company && typeof t.company === "object") company = str((t.company as Record<string, unknown>).name);
  else company = str(t.company);
  if (company) delete t.company;
  return { fields, rest: t, company };
}

export type IngestResult = { created: number; updated: number; duplicates: number };

/** Validates every message first: one bad message refuses the whole call and nothing is written. */
export function parseMessages(raw: unknown[], defaults: Partial<Message> = {}): Message[] {
  const issues: { field: string; message: string }[] = [];
  const out: Message[] = [];
  raw.forEach((m, i) => {
    // JSON.stringify(undefined) is undefined: a call without a body is refused below, as not an object.
    if ((JSON.stringify(m)?.length ?? 0) > MAX_CALL_BYTES) {
      issues.push({ field: `batch.${i}`, message: `exceeds ${MAX_CALL_BYTES} bytes` });
      return;
    }
    const unstorable = unstorableText(m, ["batch", i]);
    if (unstorable.length) {
      issues.push(...unstorable);
      return;
    }
    const r = message.safeParse(m && typeof m === "object" ? { ...defaults, ...m } : m);
    if (r.success) out.push(r.data);
    else
      for (const issue of r.error.issues)
        issues.push({ field: ["batch", i, ...issue.path].join("."), message: issue.message });
  });
  if (issues.length) throw new ValidationError(issues);
  return out;
}

/** Applies messages inside the caller's transaction (a batch is all-or-nothing), skipping messageIds already seen. */
export async function ingest(
  tx: Tx,
  feed: EventFeed,
  messages: Message[],
  actor: Actor,
  opts: { batch?: boolean } = {},
): Promise<IngestResult> {
  // Sent with the first message's statements (one round trip on PostgreSQL), awaited by each message.
  const customFields = listCustomFields(tx, "user");
  const result: IngestResult = { created: 0, updated: 0, duplicates: 0 };
  {
    for (const [i, m] of messages.entries()) {
      try {
        await apply(m);
      } catch (err) {
        if (!opts.batch || !(err instanceof AppError) || !Array.isArray(err.details)) throw err;
        const details = (err.details as { field: string; message: string }[]).map((d) => ({
          field: `batch.${i}.${d.field}`,
          message: d.message,
        }));
        throw new AppError(err.kind, err.code, details.map((d) => `${d.field}: ${d.message}`).join("; "), details);
      }
    }
    async function apply(m: Message) {
      const mapped = m.type === "identify" ? mapTraits(m.traits ?? {}) : undefined;
      // The messageId's claim, the person's lookup and the custom fields go out together (one round
      // trip on PostgreSQL); a duplicate's lookup is simply not used.
      const [fresh, found, fields] = await Promise.all([
        m.messageId ? claimMessageId(tx, m.messageId) : true,
        findByIds(tx, m, mapped?.fields.email as string | undefined),
        customFields,
      ]);
      if (!fresh) {
        result.duplicates++;
        return;
      }
      const seenAt = m.timestamp ?? m.originalTimestamp ?? new Date();
      if (m.type === "identify") {
        const outcome = await identify(tx, feed, m, mapped!, found, fields, actor, seenAt);
        result[outcome]++;
      } else if (m.type === "group") {
        if (found) {
          await assertSegmentMayChange(tx, found, {});
          const orgId = await organizationFor(tx, feed, str(m.traits?.name) ?? String(m.groupId), actor);
          await updateUserIn(tx, feed, found.user, { organization_id: orgId }, fields, actor, { lastSeenAt: seenAt });
          result.updated++;
        }
      } else {
        // Only "seen": a staff account's is not touched, and the rest of the batch still applies.
        if (found && !(await isStaff(tx, found.user)))
          await tx.update(users).set({ lastSeenAt: seenAt }).where(eq(users.id, found.user.id));
      }
    }
  }
  return result;
}

const claim = preparedFor((tx: Tx) =>
  tx
    .insert(seenMessages)
    .values({ messageId: sql.placeholder("id"), receivedAt: sql.placeholder("at") })
    .onConflictDoNothing()
    .returning({ id: seenMessages.messageId })
    .prepare(),
);

/** True the first time a messageId is seen (Segment's de-duplication key). */
async function claimMessageId(tx: Tx, messageId: string): Promise<boolean> {
  return (await claim(tx).execute({ id: messageId, at: new Date() })).length > 0;
}

/**
 * The person a message names (by traits.email, else by userId or anonymousId as the login), and the field that matched.
 */
type Found = { user: UserRow; by: "traits.email" | "userId" | "anonymousId" };

async function findByIds(
  tx: Tx,
  m: { userId?: string | null; anonymousId?: string | null },
  email?: string,
): Promise<Found | undefined> {
  const login = m.userId ?? (m.anonymousId ? `anonymous:${m.anonymousId}` : undefined);
  const { byEmail, byLogin } = await findUsersByEmailOrLogin(tx, email, login);
  if (byEmail) return { user: byEmail, by: "traits.email" };
  return byLogin && { user: byLogin, by: m.userId ? "userId" : "anonymousId" };
}

/** An administrator or agent: any role besides Customer. */
async function isStaff(tx: Tx, user: UserRow): Promise<boolean> {
  return (
    (
      await tx
        .select({ id: userRoles.roleId })
        .from(userRoles)
        .where(and(eq(userRoles.userId, user.id), ne(userRoles.roleId, CUSTOMER_ROLE_ID)))
        .limit(1)
    )[0] !== undefined
  );
}

const WRITERS: Record<string, string> = {
  ui: "an admin",
  api: "the REST API",
  import: "a CSV import",
  system: "the system",
};

/**
 * What a write key may change (it lives in public web pages): customers only, never an administrator
 * or agent account; never a login (set once, from userId, when Segment creates the person); and an
 * email only while it is empty or Segment itself wrote it last (its provenance is "identify").
 * Anything else refuses the message with a ValidationError naming the field that matched.
 */
async function assertSegmentMayChange(tx: Tx, found: Found, mapped: Record<string, unknown>): Promise<void> {
  if (await isStaff(tx, found.user)) {
    throw new ValidationError([
      { field: found.by, message: "matches an administrator or agent account, which Segment ingest may not change" },
    ]);
  }
  const { email, provenance } = found.user;
  const writer = provenance.email?.source;
  if (
    typeof mapped.email === "string" &&
    email !== null &&
    mapped.email.toLowerCase() !== email &&
    writer !== "identify"
  ) {
    const by = writer ? (WRITERS[writer] ?? writer) : "another source";
    throw new ValidationError([
      {
        field: "traits.email",
        message:
          `would replace an email set by ${by}; ` + "Segment may only set an email that is empty or that it set itself",
      },
    ]);
  }
}

async function organizationFor(tx: Tx, feed: EventFeed, name: string, actor: Actor): Promise<number> {
  const existing = await findOrganizationByName(tx, name);
  if (existing) return existing.id;
  return (
    await createOrganizationIn(
      tx,
      feed,
      { name: name.slice(0, 255) },
      await listCustomFields(tx, "organization"),
      actor,
    )
  ).id;
}

/** An identify's person created or updated; `found` is who its ids name (findByIds with traits.email). */
async function identify(
  tx: Tx,
  feed: EventFeed,
  m: z.infer<typeof identifyMessage>,
  traits: ReturnType<typeof mapTraits>,
  found: Found | undefined,
  fields: CustomField[],
  actor: Actor,
  seenAt: Date,
): Promise<"created" | "updated"> {
  const { fields: mapped, rest, company } = traits;
  if (found) await assertSegmentMayChange(tx, found, mapped);
  const existing = found?.user;
  try {
    const { data } = await parseUserInput(tx, { ...mapped, traits: { ...existing?.traits, ...rest } }, fields);
    if (company) data.organization_id = await organizationFor(tx, feed, company, actor);
    if (existing) {
      await updateUserIn(tx, feed, existing, data, fields, actor, { lastSeenAt: seenAt });
      return "updated";
    }
    const login = m.userId ?? (data.email as string | undefined) ?? `anonymous:${m.anonymousId}`;
    await createUserIn(tx, feed, { ...data, login }, fields, actor, { lastSeenAt: seenAt });
    return "created";
  } catch (err) {
    // Field errors come from the caller's traits (or userId, which becomes the login): name them so.
    if (err instanceof AppError && Array.isArray(err.details)) {
      const details = (err.details as { field: string; message: string }[]).map((d) => ({
        field: d.field === "login" ? "userId" : d.field.startsWith("traits") ? d.field : `traits.${d.field}`,
        message: d.message,
      }));
      throw new AppError(err.kind, err.code, details.map((d) => `${d.field}: ${d.message}`).join("; "), details);
    }
    throw err;
  }
}

export async function pruneSeenMessages(db: Db): Promise<number> {
  const pruned = await db.transaction(async (tx) =>
    tx
      .delete(seenMessages)
      .where(lt(seenMessages.receivedAt, new Date(Date.now() - DEDUP_WINDOW_MS)))
      .returning({ id: seenMessages.messageId }),
  );
  return pruned.length;
}
