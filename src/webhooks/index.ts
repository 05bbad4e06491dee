import { NodeCache } from "../cluster/node-cache";
import { eq } from "drizzle-orm";
import type { HttpLogEntry } from "../delivery/http-log";
import { DEFAULT_RETRY_SCHEDULE } from "../delivery/retry-policy";
import type { DeliveryHandler, EnqueueInput, HttpRequestSpec, Job } from "../delivery/types";
import { notFound } from "../errors";
import type { ChangeEvent } from "../events/feed";
import { statement, type DbOrTx, type Tx } from "../db/client";
import type { Core } from "../core";
import type { Feature } from "../feature";
import type { AppContext } from "../http/context";
import { webhookAdmin } from "./admin";
import { webhookDeliveryAdmin } from "./deliveries-admin";
import { webhooksApi } from "./api";
import { encodeHeaderValue } from "../delivery/header-value";
import { currentHop, HOP_HEADER, nextHop } from "../delivery/hops";
import { openSecretHeaders } from "../delivery/secret-headers";
import { selfTargetCheck } from "../http/addresses";
import { renderJsonText } from "../templates";
import { VERSION } from "../version";
import { EventCatalogue } from "./catalogue";
import { conditionsHold } from "./conditions";
import { destinationKey, WebhookEndpoints, type WebhookRow } from "./endpoints";
import { PayloadBuilder, samplePayload } from "./payloads";
import { webhooks, webhookTriggers, webhookTriggerTargets, type Condition } from "./schema";
import { hubSignature, hubSignature256, standardSignatureHeader } from "./signatures";
import { WebhookTriggers } from "./triggers";

const JOB_KIND = "webhook";
const HOUR_MS = 3_600_000;
/** Parsed payloads kept for the deliveries that follow (a fan-out's share one). */
const RECENT_PAYLOADS = 1024;

/**
 * What a webhook job carries. The payload is built when the change is recorded and stored once in
 * webhook_payloads (`payload_id`), however many webhooks it goes to; the body is rendered and
 * signed at send time. Jobs queued by older versions carry the payload inline (`data`).
 */
export type WebhookJobPayload = {
  webhook_id: number;
  trigger_id: number | null;
  trigger_name: string;
  event_id: number | null;
  event_type: string;
  /** The hop count of the request that caused the change (hops.ts); absent: 0. */
  hop?: number;
  test?: boolean;
  payload_id?: number;
  data?: Record<string, unknown>;
};

type Data = Record<string, unknown>;

type Target = { id: number; strictOrder: boolean; maxAttempts: number };
type Route = { id: number; name: string; match: "all" | "any"; conditions: Condition[]; targets: Target[] };

/**
 * Outgoing webhooks: endpoints, triggers, the matcher on the change feed and the "webhook" delivery
 * handler. Built once per server by webhooksFeature(ctx).
 */
/** Payloads stored once per change and shared by its deliveries (SQL both dialects speak). */
const payloads = {
  insert: statement<{ id: number }>("INSERT INTO webhook_payloads (data, created_at) VALUES (?, ?) RETURNING id"),
  get: statement<{ data: string }>("SELECT data FROM webhook_payloads WHERE id = ?"),
  prune: statement("DELETE FROM webhook_payloads WHERE created_at < ? AND id < ?"),
};

/**
 * A read asked again while the same one is on its way shares its answer (it started a moment before,
 * so it sees the same rows): a tick launches a claimed batch at once, and on PostgreSQL each read
 * is a round trip.
 */
function sharedInFlight<K, V>(read: (key: K) => Promise<V>): (key: K) => Promise<V> {
  const reading = new Map<K, Promise<V>>();
  return (key) => {
    let answer = reading.get(key);
    if (!answer) {
      answer = read(key).finally(() => reading.delete(key));
      reading.set(key, answer);
    }
    return answer;
  };
}

export class WebhookService {
  readonly endpoints: WebhookEndpoints;
  readonly triggers: WebhookTriggers;
  readonly catalogue: EventCatalogue;
  private readonly routes: NodeCache<Map<string, Route[]>>;
  /** Every webhook by id, as a send reads it (URL, secrets, options, active): dropped by every write to the table. */
  private readonly rows: NodeCache<Map<number, WebhookRow>>;
  private readonly recentPayloads = new Map<number, Data>();

  constructor(private readonly ctx: Core) {
    this.routes = new NodeCache(ctx.db, "webhook-routes", () => this.readRoutes());
    this.rows = new NodeCache(ctx.db, "webhooks", async () => {
      const rows = await ctx.db.select().from(webhooks);
      return new Map(rows.map((w) => [w.id, w]));
    });
    const routesChanged = (tx: Tx) => this.routes.changed(tx);
    const webhooksChanged = (tx: Tx) => {
      this.rows.changed(tx);
      this.routes.changed(tx);
    };
    this.endpoints = new WebhookEndpoints(ctx.db, ctx.secrets, ctx.delivery, webhooksChanged, selfTargetCheck(ctx));
    this.catalogue = new EventCatalogue(ctx);
    this.triggers = new WebhookTriggers(ctx.db, routesChanged, this.catalogue);
  }

  payloadBuilder(db: DbOrTx = this.ctx.db): PayloadBuilder {
    return new PayloadBuilder(db, { publicUrl: this.ctx.config.publicUrl, personFields: this.ctx.personFields });
  }

  /** What a trigger preview reads: the change feed, the field check and the payload builder. */
  previewDeps() {
    return { events: this.ctx.events, triggers: this.triggers, payloads: () => this.payloadBuilder() };
  }

  /** Active triggers with their active webhooks, by event type (a NodeCache: read again after any change). */
  private async readRoutes(): Promise<Map<string, Route[]>> {
    const routes = new Map<string, Route[]>();
    const rows = await this.ctx.db
      .select({
        t: webhookTriggers,
        w: { id: webhooks.id, strictOrder: webhooks.strictOrder, maxAttempts: webhooks.maxAttempts },
      })
      .from(webhookTriggers)
      .innerJoin(webhookTriggerTargets, eq(webhookTriggerTargets.triggerId, webhookTriggers.id))
      .innerJoin(webhooks, eq(webhooks.id, webhookTriggerTargets.webhookId))
      .where(eq(webhookTriggers.active, true));
    const active = new Set(
      (await this.ctx.db.select({ id: webhooks.id }).from(webhooks).where(eq(webhooks.active, true))).map((r) => r.id),
    );
    const byTrigger = new Map<number, Route & { events: string[] }>();
    for (const { t, w } of rows) {
      if (!active.has(w.id)) continue;
      let r = byTrigger.get(t.id);
      if (!r)
        byTrigger.set(
          t.id,
          (r = { id: t.id, name: t.name, match: t.match, conditions: t.conditions, targets: [], events: t.events }),
        );
      r.targets.push(w);
    }
    for (const r of [...byTrigger.values()].sort((a, b) => a.id - b.id))
      for (const e of r.events) routes.set(e, [...(routes.get(e) ?? []), r]);
    return routes;
  }

  /** Runs inside the transaction recording the change: matching triggers enqueue one job per webhook. */
  async onEvent(tx: Tx, event: ChangeEvent): Promise<void> {
    const routes = (await this.routes.get()).get(event.type) ?? [];
    if (!routes.length) return;
    const data = await this.payloadBuilder(tx).forEvent(event);
    const ticketId = (data.ticket as { id?: number } | null | undefined)?.id;
    const orderObject =
      event.objectType === "article" && ticketId ? `ticket:${ticketId}` : `${event.objectType}:${event.objectId}`;
    let payloadId: number | undefined;
    const jobs: EnqueueInput[] = [];
    for (const route of routes) {
      if (!conditionsHold(route.match, route.conditions, data, event)) continue;
      for (const w of route.targets) {
        payloadId ??= await this.storePayload(tx, data);
        const payload: WebhookJobPayload = {
          webhook_id: w.id,
          trigger_id: route.id,
          trigger_name: route.name,
          event_id: event.id,
          event_type: event.type,
          hop: currentHop(),
          payload_id: payloadId,
        };
        jobs.push({
          kind: JOB_KIND,
          destination: destinationKey(w.id),
          orderingKey: w.strictOrder ? `${destinationKey(w.id)}:${orderObject}` : null,
          payload,
          maxAttempts: w.maxAttempts,
        });
      }
    }
    // The whole fan-out in one multi-row insert.
    await this.ctx.delivery.enqueueMany(tx, jobs);
  }

  /** A test delivery of a sample record, one attempt; its answer shows in the delivery log. */
  async sendTest(webhookId: number, kind: "ticket" | "user" | "organization" = "ticket"): Promise<Job> {
    const w = await this.endpoints.get(webhookId);
    const data = samplePayload(kind, this.ctx.config.publicUrl);
    const { id } = await this.ctx.db.transaction(async (tx) => {
      const payload: WebhookJobPayload = {
        webhook_id: w.id,
        trigger_id: null,
        trigger_name: "Test",
        event_id: null,
        event_type: "test",
        test: true,
        payload_id: await this.storePayload(tx, data),
      };
      return await this.ctx.delivery.enqueue(tx, {
        kind: JOB_KIND,
        destination: destinationKey(w.id),
        payload,
        maxAttempts: 1,
      });
    });
    return (await this.ctx.delivery.getJob(id))!;
  }

  /** Stores a payload; once committed it is kept parsed for the deliveries that follow at once. */
  private async storePayload(tx: Tx, data: Data): Promise<number> {
    const json = JSON.stringify(data);
    const { id } = (await payloads.insert.get(tx, json, Date.now()))!;
    // Parsed from the stored text: exactly what a later read of the row gives.
    tx.afterCommit(() => this.remember(id, JSON.parse(json) as Data));
    return id;
  }

  private remember(id: number, data: Data): void {
    if (this.recentPayloads.size >= RECENT_PAYLOADS)
      this.recentPayloads.delete(this.recentPayloads.keys().next().value!);
    this.recentPayloads.set(id, data);
  }

  /**
   * The payload a delivery sends (as recorded at the change); null once pruned. Recorded payloads
   * never change, and a fan-out's deliveries share one: the recent ones are kept parsed.
   */
  async payloadOf(job: Job): Promise<Data | null> {
    const p = job.payload as WebhookJobPayload;
    if (p.data) return p.data;
    if (p.payload_id === undefined) return null;
    return this.recentPayloads.get(p.payload_id) ?? (await this.loadPayload(p.payload_id));
  }

  /** A fan-out's deliveries are sent together: the first asks the database, the others share its answer. */
  private readonly loadPayload = sharedInFlight(async (id: number): Promise<Data | null> => {
    const row = await payloads.get.get(this.ctx.db, id);
    if (!row) return null;
    const data = JSON.parse(row.data) as Data;
    this.remember(id, data);
    return data;
  });

  /** The webhook of a send as last committed (undefined: deleted); the copy is dropped by every write to it. */
  private async webhookOf(id: number): Promise<WebhookRow | undefined> {
    return (await this.rows.get()).get(id);
  }

  /**
   * Payloads no job can send any more (cron, with the delivery history): older than the
   * history kept, and below every active job's.
   */
  async prunePayloads(now: number = Date.now()): Promise<number> {
    return await this.ctx.db.transaction(async (tx) => {
      const wanted =
        (await this.ctx.delivery.minActivePayloadField(JOB_KIND, "payload_id", tx)) ?? Number.MAX_SAFE_INTEGER;
      return await payloads.prune.run(tx, now - this.ctx.delivery.options.finishedJobRetentionMs, wanted);
    });
  }

  async deliveries(
    webhookId: number,
    filter: { status?: string; beforeId?: number; limit?: number } = {},
  ): Promise<Job[]> {
    await this.endpoints.get(webhookId);
    return await this.ctx.delivery.listJobs({
      ...filter,
      destination: destinationKey(webhookId),
      kind: JOB_KIND,
    } as never);
  }

  /** One delivery of this webhook and every attempt's request and response. */
  async delivery(webhookId: number, jobId: number): Promise<{ job: Job; attempts: HttpLogEntry[] }> {
    const job = await this.ctx.delivery.getJob(jobId);
    if (!job || job.destination !== destinationKey(webhookId)) throw notFound("delivery");
    return { job, attempts: (await this.ctx.delivery.listHttpLog({ jobId, limit: 100 })).reverse() };
  }

  async redeliver(webhookId: number, jobId: number): Promise<Job> {
    await this.delivery(webhookId, jobId);
    const copy = (await this.ctx.delivery.redeliver(jobId))!;
    return (await this.ctx.delivery.getJob(copy.id))!;
  }

  /** Sends the chosen deliveries of this webhook again (same delivery ids); returns how many. */
  async redeliverMany(webhookId: number, jobIds: readonly number[]): Promise<number> {
    await this.endpoints.get(webhookId);
    return (await this.ctx.delivery.redeliverMany(destinationKey(webhookId), jobIds)).length;
  }

  /** How many failed deliveries recover() would send again. */
  async failedSince(webhookId: number, since: Date): Promise<number> {
    await this.endpoints.get(webhookId);
    return this.ctx.delivery.countFailedSince(destinationKey(webhookId), JOB_KIND, since);
  }

  /** Every failed delivery since a time, sent again: a run of jobs whose progress recovery() reads. */
  async recover(
    webhookId: number,
    since: Date,
  ): Promise<{ count: number; firstId: number | null; lastId: number | null }> {
    await this.endpoints.get(webhookId);
    return this.ctx.delivery.recoverFailed(destinationKey(webhookId), JOB_KIND, since);
  }

  /** How far a recovery run (its first and last job) has come. */
  async recovery(webhookId: number, firstId: number, lastId: number) {
    await this.endpoints.get(webhookId);
    const p = await this.ctx.delivery.progressOf(destinationKey(webhookId), firstId, lastId);
    return {
      total: p.total,
      finished: p.done,
      failed: p.failed,
      succeeded: p.done - p.failed,
      done: p.done >= p.total,
    };
  }

  /** Attempts per hour over the last 24 hours (the webhook page's chart). */
  async attemptsByHour(webhookId: number, hours = 24) {
    await this.endpoints.get(webhookId);
    const since = new Date(Date.now() - (hours - 1) * HOUR_MS);
    return this.ctx.delivery.attemptsOverTime(destinationKey(webhookId), since, HOUR_MS);
  }

  async enable(webhookId: number): Promise<void> {
    await this.endpoints.get(webhookId);
    await this.ctx.delivery.enableDestination(destinationKey(webhookId));
  }

  /** Health for the list: last answer, success rate of the last 100 finished deliveries, disabled or paused. */
  async health(webhookId: number) {
    const {
      destination: dest,
      activeJobs,
      recent,
      lastAttempt: last,
    } = await this.ctx.delivery.destinationHealth(destinationKey(webhookId));
    return {
      last_status: last?.status ?? null,
      last_error: last?.error ?? null,
      last_attempt_at: last ? last.at.toISOString() : null,
      success_rate: recent.finished ? Math.round((recent.succeeded / recent.finished) * 1000) / 1000 : null,
      finished_deliveries: recent.finished,
      pending_deliveries: activeJobs,
      disabled: !!dest?.disabledAt,
      disabled_reason: dest?.disabledReason ?? null,
      paused: !!dest?.pausedAt,
      pause_reason: dest?.pauseReason ?? null,
      consecutive_failures: dest?.consecutiveFailures ?? 0,
    };
  }

  /** The request for one attempt: body rendered, signed over its exact bytes, at send time. */
  async request(job: Job, w: WebhookRow): Promise<HttpRequestSpec> {
    const p = job.payload as WebhookJobPayload;
    const recorded = await this.payloadOf(job);
    if (!recorded) throw new Error("the payload recorded for this delivery has been pruned");
    const data = await this.withFirstArticle(p, recorded);
    const body = w.customPayload
      ? renderJsonText(w.customPayload, {
          ...data,
          trigger: { id: p.trigger_id, name: p.trigger_name },
          webhook: { id: w.id, name: w.name },
        })
      : JSON.stringify(data);
    const now = Date.now();
    const signing = [await this.ctx.secrets.decrypt(w.signingSecretSealed)];
    if (w.previousSecretSealed && w.previousSecretExpiresAt && w.previousSecretExpiresAt.getTime() > now)
      signing.push(await this.ctx.secrets.decrypt(w.previousSecretSealed));
    const token = w.signatureTokenSealed ? await this.ctx.secrets.decrypt(w.signatureTokenSealed) : null;
    const authSecret = w.authSecretSealed ? await this.ctx.secrets.decrypt(w.authSecretSealed) : null;
    const secretHeaders = await openSecretHeaders(this.ctx.secrets, w.secretHeadersSealed);
    const timestamp = Math.floor(now / 1000);
    const prefix = w.zammadCompat ? "X-Zammad" : "X-Switchboard";
    const headers: Record<string, string> = {
      ...w.headers,
      ...secretHeaders,
      "Content-Type": "application/json; charset=utf-8",
      "User-Agent": w.zammadCompat ? "Zammad User Agent" : `Switchboard/${VERSION}`,
      [`${prefix}-Trigger`]: encodeHeaderValue(p.trigger_name),
      [`${prefix}-Delivery`]: job.deliveryId,
      [HOP_HEADER]: nextHop(p.hop),
      "webhook-id": job.deliveryId,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": standardSignatureHeader(signing, job.deliveryId, timestamp, body),
    };
    if (token) {
      headers["X-Hub-Signature"] = hubSignature(token, body);
      headers["X-Hub-Signature-256"] = hubSignature256(token, body);
    }
    const auth =
      w.authType === "basic" && authSecret !== null
        ? { type: "basic" as const, username: w.authUsername ?? "", password: authSecret }
        : w.authType === "bearer" && authSecret
          ? { type: "bearer" as const, token: authSecret }
          : undefined;
    return {
      method: w.method,
      url: w.url,
      headers,
      body,
      auth,
      tlsVerify: w.tlsVerify,
      timeoutMs: w.timeoutSeconds * 1000,
      secrets: [
        ...signing,
        ...(token ? [token] : []),
        ...(authSecret ? [authSecret] : []),
        ...Object.values(secretHeaders),
      ],
    };
  }

  /**
   * A new ticket's first article is written after ticket.created is recorded (same transaction), so
   * the payload built then has none: add it at send time, as Zammad's payload carries it.
   */
  private async withFirstArticle(p: WebhookJobPayload, data: Data): Promise<Data> {
    const ticket = data.ticket as { id?: number } | undefined;
    if (p.event_type !== "ticket.created" || data.article !== null || !ticket?.id) return data;
    const article = await this.payloadBuilder().firstArticle(ticket.id);
    return article ? { ...data, article } : data;
  }

  handler(): DeliveryHandler {
    return {
      facility: "webhook",
      // Built from the webhook's settings (validated when saved) and the recorded payload.
      validRequests: true,
      prepare: async (job) => {
        const p = job.payload as WebhookJobPayload;
        const w = await this.webhookOf(p.webhook_id);
        // Deleted, or switched off since the change was recorded: nothing to send (tests go anyway).
        if (!w || (!w.active && !p.test)) return null;
        return this.request(job, w);
      },
      retrySchedule: async (job) => {
        const w = await this.webhookOf((job.payload as WebhookJobPayload).webhook_id);
        return { ...DEFAULT_RETRY_SCHEDULE, baseMs: (w?.retryBaseSeconds ?? 30) * 1000 };
      },
    };
  }
}

/**
 * Outgoing webhooks and triggers: the "webhook" delivery handler, the trigger matcher on
 * the change feed, payload pruning, routes.
 */
export function webhooksFeature(ctx: AppContext): Feature & { service: WebhookService } {
  const service = new WebhookService(ctx);
  return {
    name: "webhooks",
    service,
    deliveryHandlers: { [JOB_KIND]: service.handler() },
    consumers: [(tx, event) => service.onEvent(tx, event)],
    destinations: async () =>
      (await service.endpoints.list()).map((w) => ({
        key: destinationKey(w.id),
        name: `Webhook ${w.name}`,
        href: `/webhooks/${w.id}`,
      })),
    schedules: [
      {
        // Hourly, after the delivery history is pruned: payloads no queued delivery needs any more.
        name: "webhook-payload-pruning",
        pattern: "0 9 * * * *",
        run: async () => {
          const payloads = await service.prunePayloads();
          if (payloads) ctx.log.info("pruned webhook payloads", { webhook_payloads: payloads });
        },
      },
    ],
    routes: [webhooksApi(ctx, service), webhookAdmin(ctx, service), webhookDeliveryAdmin(ctx, service)],
  };
}
