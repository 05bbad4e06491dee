import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db, Tx } from "../db/client";
import type { DeliveryEngine } from "../delivery/engine";
import { notFound, validate, ValidationError } from "../errors";
import { isHeaderName, isSendableHeaderValue } from "../delivery/header-value";
import { maskedHeaders, sealSecretHeaders, secretHeadersSchema } from "../delivery/secret-headers";
import { SECRET_MASK, type SecretBox } from "../secrets";
import { renderJsonText, TemplateError } from "../templates";
import { templateWarnings } from "./payload-lint";
import { samplePayload } from "./payloads";
import { AUTH_TYPES, WEBHOOK_METHODS, webhooks } from "./schema";
import { generateSigningSecret } from "./signatures";

export type WebhookRow = typeof webhooks.$inferSelect;

const DEFAULT_GRACE_HOURS = 24;
export const destinationKey = (webhookId: number) => `webhook:${webhookId}`;

/** Headers we set ourselves (signatures, delivery id): a custom header cannot replace them. */
const RESERVED_HEADERS = new Set([
  "content-type",
  "content-length",
  "host",
  "user-agent",
  "authorization",
  "x-hub-signature",
  "x-hub-signature-256",
  "webhook-id",
  "webhook-timestamp",
  "webhook-signature",
  "x-switchboard-trigger",
  "x-switchboard-delivery",
  "x-zammad-trigger",
  "x-zammad-delivery",
  "x-switchboard-hop",
]);
const notReserved = (h: Record<string, string>, ctx: z.RefinementCtx) => {
  for (const name of Object.keys(h))
    if (RESERVED_HEADERS.has(name.toLowerCase()))
      ctx.addIssue({ code: "custom", path: [name], message: "is set by Switchboard and cannot be overridden" });
};

const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `must be at most ${max} characters`)
    .transform((v) => (v === "" ? null : v))
    .nullish();

const headersSchema = z.record(z.string(), z.string().max(4000)).superRefine((h, ctx) => {
  if (Object.keys(h).length > 50) ctx.addIssue({ code: "custom", message: "at most 50 headers" });
  notReserved(h, ctx);
  for (const [name, value] of Object.entries(h)) {
    if (!isHeaderName(name)) ctx.addIssue({ code: "custom", path: [name], message: "is not a valid header name" });
    if (/[\r\n\0]/.test(value)) ctx.addIssue({ code: "custom", path: [name], message: "must not contain line breaks" });
    else if (!isSendableHeaderValue(value))
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: "must be Latin-1 text without control characters (HTTP cannot carry other characters in a header)",
      });
  }
});

const webhookShape = {
  name: z.string().trim().min(1, "is required").max(200, "must be at most 200 characters"),
  url: z
    .string()
    .trim()
    .max(2000)
    .pipe(z.url({ protocol: /^https?$/, message: "must be an http:// or https:// URL" })),
  method: z.enum(WEBHOOK_METHODS, "must be POST, PUT or PATCH"),
  /** Signs X-Hub-Signature(-256); "" or null removes it. */
  signature_token: optionalText(500),
  tls_verify: z.boolean(),
  timeout_seconds: z.number().int().min(1, "must be at least 1").max(300, "must be at most 300"),
  headers: headersSchema,
  /** Sent like headers, but sealed at rest and masked in answers; the mask as a value keeps the saved one. */
  secret_headers: secretHeadersSchema.superRefine(notReserved),
  /** Allows a URL that reaches this server itself (refused by default: a loop feeding our own ingest). */
  allow_self: z.boolean(),
  auth_type: z.enum(AUTH_TYPES, "must be none, basic or bearer"),
  auth_username: optionalText(500),
  /** The basic-auth password, or the bearer token. */
  auth_password: optionalText(2000),
  active: z.boolean(),
  note: optionalText(5000),
  custom_payload: z
    .string()
    .max(100_000)
    .transform((v) => (v.trim() === "" ? null : v))
    .nullish(),
  zammad_compat: z.boolean(),
  strict_order: z.boolean(),
  max_attempts: z.number().int().min(1, "must be at least 1").max(20, "must be at most 20"),
  retry_base_seconds: z.number().int().min(1, "must be at least 1").max(86_400, "must be at most 86400"),
};

export const createSchema = z.strictObject(webhookShape).partial().required({ name: true, url: true });
export const updateSchema = z.strictObject(webhookShape).partial();
type WebhookInput = z.infer<typeof updateSchema>;

const DEFAULTS = {
  method: "POST",
  tls_verify: true,
  timeout_seconds: 15,
  headers: {},
  allow_self: false,
  auth_type: "none",
  active: true,
  zammad_compat: false,
  strict_order: false,
  max_attempts: 5,
  retry_base_seconds: 30,
} as const;

/** Renders a custom payload against a sample with every kind of record (ticket, article, user, organization). */
function checkCustomPayload(template: string): void {
  const sample = {
    ...samplePayload("organization"),
    ...samplePayload("user"),
    ...samplePayload("ticket"),
    trigger: { name: "Sample trigger" },
    webhook: { id: 1, name: "Sample webhook" },
  };
  try {
    renderJsonText(template, sample);
  } catch (err) {
    if (err instanceof TemplateError) throw new ValidationError([{ field: "custom_payload", message: err.message }]);
    throw err;
  }
}

/**
 * Preview of a custom payload against a sample payload (the event catalogue's): the JSON text and
 * what the template gets wrong with it (tokens rendering objects or nothing, payload-lint.ts), or a
 * ValidationError.
 */
export function previewCustomPayload(template: string, payload: Record<string, unknown>): PayloadPreview {
  const sample = {
    ...payload,
    trigger: { id: 1, name: "Sample trigger" },
    webhook: { id: 1, name: "Sample webhook" },
  };
  try {
    const text = renderJsonText(template, sample);
    return { body: JSON.stringify(JSON.parse(text), null, 2), warnings: templateWarnings(template, sample) };
  } catch (err) {
    if (err instanceof TemplateError) throw new ValidationError([{ field: "custom_payload", message: err.message }]);
    throw err;
  }
}
export type PayloadPreview = { body: string; warnings: string[] };

export function webhookJson(w: WebhookRow) {
  return {
    id: w.id,
    name: w.name,
    url: w.url,
    method: w.method,
    signature_token: w.signatureTokenSealed ? SECRET_MASK : null,
    signing_secret: SECRET_MASK,
    previous_secret_expires_at:
      w.previousSecretSealed && w.previousSecretExpiresAt ? w.previousSecretExpiresAt.toISOString() : null,
    tls_verify: w.tlsVerify,
    timeout_seconds: w.timeoutSeconds,
    headers: w.headers,
    secret_headers: maskedHeaders(w.secretHeadersSealed),
    allow_self: w.allowSelf,
    auth_type: w.authType,
    auth_username: w.authUsername,
    auth_password: w.authSecretSealed ? SECRET_MASK : null,
    active: w.active,
    note: w.note,
    custom_payload: w.customPayload,
    zammad_compat: w.zammadCompat,
    strict_order: w.strictOrder,
    max_attempts: w.maxAttempts,
    retry_base_seconds: w.retryBaseSeconds,
    created_at: w.createdAt.toISOString(),
    updated_at: w.updatedAt.toISOString(),
  };
}

/**
 * Webhook endpoints: validated settings, secrets sealed before the row is written, and the delivery
 * destination ("webhook:<id>") configured in the same transaction (strict order).
 */
export class WebhookEndpoints {
  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
    private readonly delivery: DeliveryEngine,
    /** In every transaction writing the table: the webhooks and routes are read again, here and on every node. */
    private readonly changed: (tx: Tx) => void,
    /** Why a URL reaches this server itself, or null (addresses.ts). */
    private readonly selfTarget: (url: string) => Promise<string | null>,
  ) {}

  async list(): Promise<WebhookRow[]> {
    return await this.db.select().from(webhooks).orderBy(asc(webhooks.name), asc(webhooks.id));
  }

  async get(id: number): Promise<WebhookRow> {
    const row = (await this.db.select().from(webhooks).where(eq(webhooks.id, id)).limit(1))[0];
    if (!row) throw notFound("webhook");
    return row;
  }

  /** Returns the row and the new Standard Webhooks secret, shown this once. */
  async create(input: unknown, actorId: number | null): Promise<{ row: WebhookRow; signingSecret: string }> {
    const d = { ...DEFAULTS, ...validate(createSchema, input) };
    this.checkAuth(d, null);
    if (d.custom_payload) checkCustomPayload(d.custom_payload);
    await this.checkSelf(d.url, d.allow_self);
    const signingSecret = generateSigningSecret();
    const sealed = {
      secretHeadersSealed: await sealSecretHeaders(this.secrets, d.secret_headers ?? {}, null, Object.keys(d.headers)),
      signingSecretSealed: await this.secrets.encrypt(signingSecret),
      signatureTokenSealed: d.signature_token ? await this.secrets.encrypt(d.signature_token) : null,
      authSecretSealed: d.auth_type !== "none" && d.auth_password ? await this.secrets.encrypt(d.auth_password) : null,
    };
    const row = await this.db.transaction(async (tx) => {
      const row = (
        await tx
          .insert(webhooks)
          .values({
            ...columns(d),
            name: d.name,
            url: d.url,
            ...sealed,
            authUsername: d.auth_type === "basic" ? (d.auth_username ?? null) : null,
            createdById: actorId,
            updatedById: actorId,
          })
          .returning()
      )[0]!;
      await this.delivery.configureDestination(tx, destinationKey(row.id), { strictOrder: row.strictOrder });
      this.changed(tx);
      return row;
    });
    return { row, signingSecret };
  }

  async update(id: number, input: unknown, actorId: number | null): Promise<WebhookRow> {
    const d = validate(updateSchema, input);
    const before = await this.get(id);
    this.checkAuth(
      {
        auth_type: d.auth_type ?? before.authType,
        auth_username: d.auth_username === undefined ? before.authUsername : d.auth_username,
        auth_password: d.auth_password,
      },
      before,
    );
    if (d.custom_payload) checkCustomPayload(d.custom_payload);
    await this.checkSelf(d.url ?? before.url, d.allow_self ?? before.allowSelf);
    const set: Partial<WebhookRow> = { ...columns(d), updatedAt: new Date(), updatedById: actorId };
    if (d.secret_headers !== undefined || d.headers !== undefined) {
      const input = d.secret_headers ?? maskedHeaders(before.secretHeadersSealed);
      set.secretHeadersSealed = await sealSecretHeaders(
        this.secrets,
        input,
        before.secretHeadersSealed,
        Object.keys(d.headers ?? before.headers),
      );
    }
    if (d.signature_token !== undefined)
      set.signatureTokenSealed = d.signature_token ? await this.secrets.encrypt(d.signature_token) : null;
    const authType = d.auth_type ?? before.authType;
    if (authType === "none") Object.assign(set, { authUsername: null, authSecretSealed: null });
    else {
      if (d.auth_password) set.authSecretSealed = await this.secrets.encrypt(d.auth_password);
      if (authType === "bearer") set.authUsername = null;
      else if (d.auth_username !== undefined) set.authUsername = d.auth_username;
    }
    const row = await this.db.transaction(async (tx) => {
      const row = (await tx.update(webhooks).set(set).where(eq(webhooks.id, id)).returning())[0]!;
      if (!row) throw notFound("webhook");
      await this.delivery.configureDestination(tx, destinationKey(id), { strictOrder: row.strictOrder });
      this.changed(tx);
      return row;
    });
    return row;
  }

  /** Queued deliveries to a deleted webhook are dropped when their turn comes (nothing to send to). */
  async delete(id: number): Promise<void> {
    const gone = (
      await this.db.transaction(async (tx) => {
        this.changed(tx);
        return await tx.delete(webhooks).where(eq(webhooks.id, id)).returning({ id: webhooks.id });
      })
    )[0]!;
    if (!gone) throw notFound("webhook");
  }

  /**
   * A new Standard Webhooks secret; the current one keeps signing beside it for `graceHours` (0: at
   * once no longer). Returns the new secret, shown this once.
   */
  async rotateSecret(
    id: number,
    graceHours: number = DEFAULT_GRACE_HOURS,
    actorId: number | null = null,
  ): Promise<{ row: WebhookRow; signingSecret: string }> {
    const hours = validate(
      z.number().min(0, "must be at least 0").max(720, "must be at most 720 (30 days)"),
      graceHours,
    );
    const before = await this.get(id);
    const signingSecret = generateSigningSecret();
    const sealed = await this.secrets.encrypt(signingSecret);
    const keepOld = hours > 0;
    const row = (
      await this.db.transaction(async (tx) => {
        this.changed(tx);
        return await tx
          .update(webhooks)
          .set({
            signingSecretSealed: sealed,
            previousSecretSealed: keepOld ? before.signingSecretSealed : null,
            previousSecretExpiresAt: keepOld ? new Date(Date.now() + hours * 3_600_000) : null,
            updatedAt: new Date(),
            updatedById: actorId,
          })
          .where(eq(webhooks.id, id))
          .returning();
      })
    )[0]!;
    if (!row) throw notFound("webhook");
    return { row, signingSecret };
  }

  private async checkSelf(url: string, allowSelf: boolean): Promise<void> {
    if (allowSelf) return;
    const reason = await this.selfTarget(url);
    if (reason)
      throw new ValidationError([
        {
          field: "url",
          message:
            `points to this Switchboard server itself: ${reason}; ` +
            "a webhook there would feed its own changes back in a loop. " +
            "Allow it explicitly (allow_self) if that is intended",
        },
      ]);
  }

  private checkAuth(
    d: { auth_type?: string; auth_username?: string | null; auth_password?: string | null },
    before: WebhookRow | null,
  ): void {
    const hasSecret = !!d.auth_password || (!!before?.authSecretSealed && before.authType === d.auth_type);
    if (d.auth_type === "basic") {
      const issues = [];
      if (!d.auth_username) issues.push({ field: "auth_username", message: "is required for basic auth" });
      if (!hasSecret) issues.push({ field: "auth_password", message: "is required for basic auth" });
      if (issues.length) throw new ValidationError(issues);
    }
    if (d.auth_type === "bearer" && !hasSecret)
      throw new ValidationError([{ field: "auth_password", message: "the bearer token is required" }]);
  }
}

function columns(d: WebhookInput): Partial<WebhookRow> {
  const out: Partial<WebhookRow> = {};
  if (d.name !== undefined) out.name = d.name;
  if (d.url !== undefined) out.url = d.url;
  if (d.method !== undefined) out.method = d.method;
  if (d.tls_verify !== undefined) out.tlsVerify = d.tls_verify;
  if (d.timeout_seconds !== undefined) out.timeoutSeconds = d.timeout_seconds;
  if (d.headers !== undefined) out.headers = d.headers;
  if (d.allow_self !== undefined) out.allowSelf = d.allow_self;
  if (d.auth_type !== undefined) out.authType = d.auth_type;
  if (d.active !== undefined) out.active = d.active;
  if (d.note !== undefined) out.note = d.note;
  if (d.custom_payload !== undefined) out.customPayload = d.custom_payload;
  if (d.zammad_compat !== undefined) out.zammadCompat = d.zammad_compat;
  if (d.strict_order !== undefined) out.strictOrder = d.strict_order;
  if (d.max_attempts !== undefined) out.maxAttempts = d.max_attempts;
  if (d.retry_base_seconds !== undefined) out.retryBaseSeconds = d.retry_base_seconds;
  return out;
}
