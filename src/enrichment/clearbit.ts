import { and, eq, inArray, sql } from "drizzle-orm";
import { NodeCache } from "../cluster/node-cache";
import { sqlAll, type Db, type DbOrTx, type Tx } from "../db/client";
import { preparedFor } from "../db/prepared";
import { settings as settingsTable, users } from "../db/schema";
import type { DeliveryHandler, HttpResult, Job, Outcome } from "../delivery";
import { apiValues, listCustomFields, type CustomField } from "../domain/custom-fields";
import {
  createOrganizationIn,
  findOrganizationByDomain,
  findOrganizationByName,
  parseOrganizationInput,
  updateOrganizationIn,
  type OrganizationRow,
} from "../domain/organizations";
import {
  COLUMN_OF,
  findUserByEmail,
  findUserById,
  getUserRow,
  parseUserInput,
  updateUserIn,
  type UserRow,
} from "../domain/users";
import type { Actor, ChangeEvent } from "../events/feed";
import type { Core } from "../core";
import { isEmpty, MAPPABLE_ORGANIZATION_FIELDS, MAPPABLE_USER_FIELDS, proposedValues, type Answer } from "./mappings";
import { mergeProviderValues, providerMayWrite } from "./merge";
import { ValidationError } from "../errors";
import {
  answerOf,
  classifyAnswer,
  lookupRequest,
  parseAnswer,
  providerError,
  resetDelayMs,
  resultMode,
  verifySignature,
  type LookupPayload,
  type ResultMode,
} from "./provider";
import { RateLimiter } from "./rate-limiter";
import { enrichmentLookups, userEnrichments } from "./schema";
import { DEFAULT_SETTINGS, readSettings, saveSettings, type ClearbitSettings } from "./settings";
import { flattenAnswer } from "./traits";

export const KIND = "clearbit";
export const DESTINATION = "clearbit";
export const SOURCE = "enrichment:clearbit" as const;
const ACTOR: Actor = { id: null, source: SOURCE };
const BACKFILL_KEY = "integration.clearbit.backfill";
const BACKFILL_BATCH = 500;
const DAY = 86_400_000;
export const CALLBACK_PATH = "/v1/callbacks/clearbit";
export const DESTINATION_CONCURRENCY = 10;
/** The hourly enrichment schedule runs at this minute (index.ts). */
export const BACKFILL_MINUTE = 20;

export type PlanResult = "queued" | "cached" | "pending" | "unknown" | "invalid" | "disabled" | "no_email";
export type BackfillRun = { started_at: string; planned: number; planning: boolean };

type Lookup = typeof enrichmentLookups.$inferSelect;

/** Why a lookup's call failed, or null: a queued answer (202) or a rate-limit wait (429) is no failure. */
function failureOf(outcome: Outcome): string | null {
  if (outcome.kind === "pause" || outcome.kind === "disable") return outcome.reason;
  if (outcome.kind === "fail") return outcome.error;
  if (outcome.kind === "retry" && outcome.countsAsFailure !== false) return outcome.error;
  return null;
}

/**
 * Clearbit enrichment: plans lookups (events, identify, "enrich now", backfill) as delivery jobs,
 * holds the provider's rate limit, and merges answers into users and organizations under the
 * merge rule, recording user.updated and user.enriched events.
 */
export class ClearbitEnrichment {
  readonly limiter: RateLimiter;
  /** The saved settings: a NodeCache, dropped on every node when a save through any node commits. */
  private readonly saved: NodeCache<ClearbitSettings>;
  private backfillRunning = false;

  constructor(private readonly ctx: Core) {
    this.saved = new NodeCache(ctx.db, "clearbit-settings", () => readSettings(ctx.db));
    // Its limit is the settings' (set at every read of them, which comes before any take()).
    this.limiter = new RateLimiter(ctx.db, DEFAULT_SETTINGS.rate_limit_per_minute);
  }

  get db(): Db {
    return this.ctx.db;
  }

  /** The saved settings, as this node last read them (a save through any node has them read again). */
  async settings(): Promise<ClearbitSettings> {
    const settings = await this.saved.get();
    this.limiter.setLimit(settings.rate_limit_per_minute);
    return settings;
  }

  async active(): Promise<boolean> {
    const s = await this.settings();
    return s.enabled && s.api_key_sealed !== null;
  }

  async apiKey(): Promise<string | null> {
    const sealed = (await this.settings()).api_key_sealed;
    return sealed ? this.ctx.secrets.decrypt(sealed) : null;
  }

  async save(input: unknown): Promise<ClearbitSettings> {
    const custom = async (t: "user" | "organization") => (await listCustomFields(this.db, t)).map((f) => f.name);
    const { settings, keyChanged } = await saveSettings(
      this.db,
      this.ctx.secrets,
      input,
      {
        user: new Set([...MAPPABLE_USER_FIELDS, ...(await custom("user"))]),
        organization: new Set([...MAPPABLE_ORGANIZATION_FIELDS, ...(await custom("organization"))]),
      },
      (tx) => this.saved.changed(tx),
    );
    const wasPaused = (await this.ctx.delivery.getDestination(DESTINATION))?.pausedAt;
    this.limiter.setLimit(settings.rate_limit_per_minute);
    // A new key ends an Unauthorized pause; saving also resumes after an over-quota pause.
    if (wasPaused || keyChanged) await this.ctx.delivery.enableDestination(DESTINATION);
    return settings;
  }

  /** Streaming, callbacks (only with a reachable base URL) or polling; shown on the settings page and API. */
  async resultMode(): Promise<ResultMode> {
    return resultMode(await this.settings(), this.ctx.config.baseUrl, CALLBACK_PATH);
  }

  /** The delivery handler: one job per lookup. */
  handler(): DeliveryHandler {
    return {
      facility: "clearbit",
      maxAttempts: 8,
      retrySchedule: { baseMs: 10_000, factor: 4, maxMs: 3_600_000, jitter: 0.2 },
      prepare: async (job) => {
        const payload = job.payload as LookupPayload;
        if (!(await this.active())) return null;
        const lookup = await this.lookup(this.db, payload.email);
        // A callback answered while this job waited: nothing left to ask.
        if (
          payload.type === "combined" &&
          lookup &&
          lookup.status !== "pending" &&
          (lookup.checkedAt?.getTime() ?? 0) >= job.createdAt.getTime()
        )
          return null;
        const key = await this.apiKey();
        if (!key) return null;
        await this.limiter.take();
        return lookupRequest(await this.settings(), key, payload, (await this.resultMode()).callback_url);
      },
      classify: async (job, result, fallback) => {
        const h = result.headers;
        if (h["x-ratelimit-remaining"] !== undefined)
          this.limiter.observe(
            Number(h["x-ratelimit-remaining"]),
            (resetDelayMs(h["x-ratelimit-reset"]) ?? 60_000) / 1000,
          );
        const outcome = classifyAnswer(result, job.attempts, fallback);
        const email = (job.payload as LookupPayload).email;
        if (result.status === 422) {
          // Recorded so that planning skips this email until the refresh interval has passed.
          await this.db.transaction(async (tx) =>
            tx
              .update(enrichmentLookups)
              .set({ status: "invalid", checkedAt: new Date(), error: providerError(result) })
              .where(eq(enrichmentLookups.email, email)),
          );
        } else if (failureOf(outcome))
          // The lookup stays pending (it is sent again), and the person's page says why it has no answer yet.
          await this.db.transaction(async (tx) =>
            tx
              .update(enrichmentLookups)
              .set({ error: failureOf(outcome) })
              .where(and(eq(enrichmentLookups.email, email), eq(enrichmentLookups.status, "pending"))),
          );
        return outcome;
      },
      onSuccess: (tx, job, result) => this.onAnswer(tx, job, result),
    };
  }

  private async onAnswer(tx: Tx, job: Job, result: HttpResult | null): Promise<void> {
    if (!result) return;
    const payload = job.payload as LookupPayload;
    if (result.status === 404) {
      if (payload.type === "combined") await this.markUnknown(tx, payload.email);
      return;
    }
    if (result.status !== 200) return;
    if (payload.type === "company") {
      const user = await findUserByEmail(tx, payload.email);
      const stored = user ? await this.storedAnswer(tx, user.id) : null;
      if (user)
        await this.applyAnswer(
          tx,
          user,
          { person: stored?.person ?? null, company: parseAnswer(result.body, "company").company },
          new Date(),
        );
      return;
    }
    await this.applyLookupResult(tx, payload.email, parseAnswer(result.body, "combined"));
  }

  /** A found answer for an email: stored, merged into its user, and remembered for the refresh interval. */
  async applyLookupResult(tx: Tx, email: string, answer: Answer): Promise<void> {
    const now = new Date();
    await this.upsertLookup(tx, email, { status: "found", checkedAt: now, unknownUntil: null, error: null });
    const user = await findUserByEmail(tx, email);
    if (!user) return;
    await this.applyAnswer(tx, user, answer, now);
    // The person works somewhere the answer has no company for: ask for the company by its domain.
    const domain =
      answer.person && !answer.company
        ? ((answer.person.employment as Record<string, unknown> | undefined)?.domain as string | undefined)
        : undefined;
    if (domain && /^[a-z0-9.-]+\.[a-z]{2,}$/i.test(domain))
      await this.ctx.delivery.enqueue(tx, {
        kind: KIND,
        destination: DESTINATION,
        payload: { type: "company", email, domain } satisfies LookupPayload,
      });
  }

  async markUnknown(tx: Tx, email: string): Promise<void> {
    const now = new Date();
    await this.upsertLookup(tx, email, {
      status: "unknown",
      checkedAt: now,
      unknownUntil: new Date(now.getTime() + (await this.settings()).unknown_retry_days * DAY),
      error: "unknown_record",
    });
    const user = await findUserByEmail(tx, email);
    if (user) {
      const before = await this.storedAnswer(tx, user.id);
      await tx
        .insert(userEnrichments)
        .values({ userId: user.id, email, person: null, company: null, checkedAt: now })
        .onConflictDoUpdate({
          target: userEnrichments.userId,
          set: { email, person: null, company: null, checkedAt: now },
        });
      if (before?.person || before?.company)
        await this.ctx.events.record(tx, {
          type: "user.enriched",
          objectType: "user",
          objectId: user.id,
          changes: traitChanges(before, null),
          actor: ACTOR,
        });
    }
  }

  /** Merges an answer into a user (and organization), stores it, and records user.enriched. */
  async applyAnswer(tx: Tx, before: UserRow, answer: Answer, checkedAt: Date): Promise<void> {
    const s = await this.settings();
    const fields = await listCustomFields(tx, "user");
    const previous = await this.storedAnswer(tx, before.id);
    await tx
      .insert(userEnrichments)
      .values({
        userId: before.id,
        email: before.email ?? "",
        person: answer.person,
        company: answer.company,
        checkedAt,
      })
      .onConflictDoUpdate({
        target: userEnrichments.userId,
        set: { email: before.email ?? "", person: answer.person, company: answer.company, checkedAt },
      });
    const current = userValues(before, fields);
    const updates = await validUserValues(
      tx,
      mergeProviderValues(current, before.provenance, proposedValues(answer, s.user_mappings), SOURCE),
      fields,
    );
    if (answer.company) {
      // The company's organization takes the provider's values (under the merge rule) whether or not
      // the person is in it; the person is placed in it only where the rule lets the provider write.
      const mayPlace = providerMayWrite(before.organizationId, before.provenance.organization_id?.source, SOURCE);
      const org = await this.organizationFor(tx, answer, { create: mayPlace });
      if (org && mayPlace && org.id !== before.organizationId) updates.organization_id = org.id;
    }
    if (Object.keys(updates).length) await updateUserIn(tx, this.ctx.events, before, updates, fields, ACTOR);
    await this.ctx.events.record(tx, {
      type: "user.enriched",
      objectType: "user",
      objectId: before.id,
      changes: {
        ...traitChanges(previous, answer),
        clearbit_date_last_checked: [previous?.checkedAt.toISOString() ?? null, checkedAt.toISOString()],
      },
      actor: ACTOR,
    });
  }

  /**
   * The company's organization: by domain, then exact name, else created when enabled
   * and asked to. Company fields are merged in.
   */
  private async organizationFor(tx: Tx, answer: Answer, opts: { create: boolean }): Promise<OrganizationRow | null> {
    const company = answer.company!;
    const settings = await this.settings();
    const orgFields = await listCustomFields(tx, "organization");
    const proposed = await validOrganizationValues(
      tx,
      proposedValues(answer, settings.organization_mappings),
      orgFields,
    );
    const domain = typeof company.domain === "string" ? company.domain : null;
    const name = typeof company.name === "string" ? company.name : null;
    let org =
      (domain ? await findOrganizationByDomain(tx, domain) : undefined) ??
      (name ? await findOrganizationByName(tx, name) : undefined);
    if (!org) {
      if (!opts.create || !settings.create_organizations || typeof proposed.name !== "string") return null;
      const clash = await findOrganizationByName(tx, proposed.name);
      if (clash) org = clash;
      else
        return await createOrganizationIn(
          tx,
          this.ctx.events,
          { ...proposed, shared: settings.organizations_shared },
          orgFields,
          ACTOR,
        );
    }
    const current: Record<string, unknown> = { name: org.name, domain: org.domain, note: org.note, ...org.custom };
    const updates = mergeProviderValues(current, org.provenance, proposed, SOURCE);
    if (
      typeof updates.name === "string" &&
      (await findOrganizationByName(tx, updates.name))?.id !== undefined &&
      (await findOrganizationByName(tx, updates.name))!.id !== org.id
    )
      delete updates.name;
    return Object.keys(updates).length
      ? await updateOrganizationIn(tx, this.ctx.events, org, updates, orgFields, ACTOR)
      : org;
  }

  async lookup(db: DbOrTx, email: string): Promise<Lookup | undefined> {
    return (await db.select().from(enrichmentLookups).where(eq(enrichmentLookups.email, email)).limit(1))[0];
  }

  async storedAnswer(
    db: DbOrTx,
    userId: number,
  ): Promise<{
    person: Record<string, unknown> | null;
    company: Record<string, unknown> | null;
    checkedAt: Date;
    email: string;
  } | null> {
    return (await db.select().from(userEnrichments).where(eq(userEnrichments.userId, userId)).limit(1))[0] ?? null;
  }

  private async upsertLookup(tx: Tx, email: string, set: Partial<Lookup>): Promise<void> {
    await tx
      .insert(enrichmentLookups)
      .values({ email, status: "pending", requestedAt: new Date(), ...set })
      .onConflictDoUpdate({ target: enrichmentLookups.email, set });
  }

  /**
   * Decides, inside the caller's transaction, whether an email is asked about: never twice within
   * the refresh interval (a cached answer is applied instead), never while remembered unknown.
   */
  async plan(tx: Tx, user: UserRow, opts: { force?: boolean } = {}): Promise<PlanResult> {
    const settings = await this.settings();
    if (!settings.enabled || settings.api_key_sealed === null) return "disabled";
    const email = user.email;
    if (!email) return "no_email";
    const now = Date.now();
    const refreshMs = settings.refresh_interval_hours * 3_600_000;
    const lookup = await this.lookup(tx, email);
    if (lookup) {
      if (lookup.status === "unknown" && (lookup.unknownUntil?.getTime() ?? 0) > now) return "unknown";
      const fresh = now - (lookup.checkedAt ?? lookup.requestedAt).getTime() < refreshMs;
      if (lookup.status === "pending" && now - lookup.requestedAt.getTime() < refreshMs) return "pending";
      if (lookup.status === "invalid" && fresh) return "invalid";
      if (lookup.status === "found" && fresh) {
        const stored = (await tx.select().from(userEnrichments).where(eq(userEnrichments.email, email)).limit(1))[0];
        if (stored) {
          if (stored.userId !== user.id || opts.force)
            await this.applyAnswer(tx, user, { person: stored.person, company: stored.company }, stored.checkedAt);
          return "cached";
        }
      }
    }
    await this.upsertLookup(tx, email, { status: "pending", requestedAt: new Date(now), error: null });
    await this.ctx.delivery.enqueue(tx, {
      kind: KIND,
      destination: DESTINATION,
      payload: { type: "combined", email } satisfies LookupPayload,
    });
    return "queued";
  }

  /** The event-feed consumer: new users with an email, changed emails, identify calls. */
  async onEvent(tx: Tx, e: ChangeEvent): Promise<void> {
    if (e.objectType !== "user" || e.source.startsWith("enrichment:") || !(await this.active())) return;
    const emailChange = e.changes.email;
    const wanted =
      (e.type === "user.created" && emailChange?.[1]) ||
      (e.type === "user.updated" && (emailChange?.[1] || e.source === "identify"));
    if (!wanted) return;
    const user = await findUserById(tx, e.objectId);
    if (user?.email) await this.plan(tx, user);
  }

  /** "Enrich now" on a person. */
  async enrichNow(userId: number): Promise<PlanResult> {
    return await this.db.transaction(async (tx) => this.plan(tx, await getUserRow(tx, userId), { force: true }));
  }

  /**
   * Provider callback: verifies the signature over the raw body, then applies the answer to the
   * waiting user. Returns false for a bad signature.
   */
  async callback(rawBody: string, signature: string | null): Promise<{ ok: boolean; applied?: boolean }> {
    const key = await this.apiKey();
    if (!key || !verifySignature(rawBody, signature, key)) return { ok: false };
    const data = callbackObject(rawBody);
    const email = typeof data.id === "string" ? data.id.trim().toLowerCase() : null;
    if (!email) return { ok: true, applied: false };
    const applied = await this.db.transaction(async (tx) => {
      const lookup = await this.lookup(tx, email);
      if (lookup && lookup.status !== "pending") return false;
      if (data.status === 404) await this.markUnknown(tx, email);
      else if (data.status === 200)
        await this.applyLookupResult(tx, email, answerOf(data.body, String(data.type ?? "person_company")));
      else return false;
      return true;
    });
    return { ok: true, applied };
  }

  /** The hourly schedule: a backfill when the last one is older than backfill_every_hours. */
  async scheduledBackfill(now = Date.now()): Promise<BackfillRun | null> {
    if (!(await this.active())) return null;
    const last = await this.backfillRun();
    if (last && now - Date.parse(last.started_at) < (await this.settings()).backfill_every_hours * 3_600_000 - 60_000)
      return null;
    return this.backfill();
  }

  /** Users seen within the backfill window whose last check is older than the refresh interval. */
  /** Starts a backfill; resolves once its run is recorded (its progress can be shown), while planning goes on. */
  async startBackfill(onError: (err: unknown) => void): Promise<void> {
    let recorded!: () => void;
    const started = new Promise<void>((resolve) => (recorded = resolve));
    this.backfill(recorded).then(recorded, (err) => {
      recorded();
      onError(err);
    });
    await started;
  }

  async backfill(onRecorded?: () => void): Promise<BackfillRun> {
    if (this.backfillRunning) return (await this.backfillRun())!;
    if (!(await this.active())) return { started_at: new Date().toISOString(), planned: 0, planning: false };
    this.backfillRunning = true;
    const run: BackfillRun = { started_at: new Date().toISOString(), planned: 0, planning: true };
    try {
      await this.saveRun(run);
      onRecorded?.();
      const now = Date.now();
      const settings = await this.settings();
      const seenSince = now - settings.backfill_window_days * DAY;
      const staleBefore = now - settings.refresh_interval_hours * 3_600_000;
      let afterId = 0;
      for (;;) {
        const batch = await sqlAll<{ id: number }>(
          this.db,
          sql`
          SELECT u.id FROM users u LEFT JOIN enrichment_lookups l ON l.email = u.email
          WHERE u.id > ${afterId} AND u.email IS NOT NULL AND coalesce(u.last_seen_at, u.created_at) >= ${seenSince}
            AND (l.email IS NULL OR (l.status = 'unknown' AND coalesce(l.unknown_until, 0) <= ${now})
                 OR (l.status != 'unknown' AND coalesce(l.checked_at, l.requested_at) < ${staleBefore}))
          ORDER BY u.id LIMIT ${BACKFILL_BATCH}`,
        );
        if (!batch.length) break;
        afterId = batch.at(-1)!.id;
        const ids = batch.map((b) => b.id);
        await this.db.transaction(async (tx) => {
          for (const user of await tx.select().from(users).where(inArray(users.id, ids)))
            if ((await this.plan(tx, user)) === "queued") run.planned++;
        });
        await this.saveRun(run);
        // Let requests in between: planning 20k users must not stall the UI.
        await Bun.sleep(1);
      }
    } finally {
      run.planning = false;
      await this.saveRun(run);
      this.backfillRunning = false;
    }
    return run;
  }

  private async saveRun(run: BackfillRun): Promise<void> {
    await this.db.transaction(async (tx) =>
      tx
        .insert(settingsTable)
        .values({ key: BACKFILL_KEY, value: run, updatedAt: new Date() })
        .onConflictDoUpdate({ target: settingsTable.key, set: { value: run, updatedAt: new Date() } }),
    );
  }

  async backfillRun(): Promise<BackfillRun | null> {
    return (
      ((await this.db.select().from(settingsTable).where(eq(settingsTable.key, BACKFILL_KEY)).limit(1))[0]?.value as
        | BackfillRun
        | undefined) ?? null
    );
  }

  /** The last backfill's jobs by state, for the progress bar. */
  async backfillProgress() {
    const run = await this.backfillRun();
    if (!run) return null;
    const by = await this.ctx.delivery.countByStatus(KIND, new Date(run.started_at));
    const done = (by.succeeded ?? 0) + (by.failed ?? 0) + (by.cancelled ?? 0);
    const total = Math.max(run.planned, done + (by.pending ?? 0) + (by.running ?? 0));
    return {
      ...run,
      total,
      done,
      failed: by.failed ?? 0,
      percent: total ? Math.floor((done / total) * 100) : 100,
      finished: !run.planning && done >= total,
    };
  }

  /** When the hourly schedule (at :20) will next plan a backfill; null while Clearbit is off. */
  async nextBackfillAt(now = Date.now()): Promise<Date | null> {
    if (!(await this.active())) return null;
    const last = await this.backfillRun();
    const every = (await this.settings()).backfill_every_hours * 3_600_000;
    const due = last ? Date.parse(last.started_at) + every - 60_000 : now;
    const from = Math.max(now, due);
    const hour = from - (from % 3_600_000);
    const run = hour + BACKFILL_MINUTE * 60_000;
    return new Date(run >= from ? run : run + 3_600_000);
  }

  /** What the operations dashboard shows: configured, key valid, last error, rate used, next backfill. */
  async overview(now = Date.now()) {
    const settings = await this.settings();
    const dest = await this.ctx.delivery.getDestination(DESTINATION);
    const { state } = await this.status();
    return {
      configured: settings.api_key_sealed !== null,
      enabled: settings.enabled,
      key:
        state === "unauthorized"
          ? ("invalid" as const)
          : dest?.lastSuccessAt && !dest.failingSince
            ? ("valid" as const)
            : ("unchecked" as const),
      lastError: dest?.lastError ?? null,
      lastErrorAt: dest?.lastFailureAt ?? null,
      rate: { used: await this.limiter.usedInWindow(), perMinute: this.limiter.perWindow },
      nextBackfillAt: await this.nextBackfillAt(now),
    };
  }

  /** Waiting for data → Connected, or Unauthorized / Error with the reason. */
  async status(): Promise<{
    state: "disabled" | "waiting" | "connected" | "unauthorized" | "error";
    label: string;
    reason: string | null;
  }> {
    const settings = await this.settings();
    if (!settings.enabled || settings.api_key_sealed === null)
      return {
        state: "disabled",
        label: "Disabled",
        reason: settings.api_key_sealed ? null : "No API key saved.",
      };
    const dest = (await this.ctx.delivery.destinationHealth(DESTINATION)).destination;
    if (dest?.pausedAt && dest.pauseReason?.startsWith("Unauthorized"))
      return { state: "unauthorized", label: "Unauthorized", reason: dest.pauseReason };
    if (dest?.pausedAt) return { state: "error", label: "Error", reason: dest.pauseReason };
    if (dest?.disabledAt) return { state: "error", label: "Error", reason: dest.disabledReason };
    if (dest?.failingSince && dest.lastError) return { state: "error", label: "Error", reason: dest.lastError };
    const any =
      (await this.db.select({ id: userEnrichments.userId }).from(userEnrichments).limit(1))[0] ??
      (dest?.lastSuccessAt ? { id: 0 } : undefined);
    return any
      ? { state: "connected", label: "Connected", reason: null }
      : { state: "waiting", label: "Waiting for data", reason: null };
  }
}

/** Flat clearbit_ traits of a user (webhook and CRM payloads call this); {} when never enriched. */
export async function enrichmentTraits(db: DbOrTx, userId: number): Promise<Record<string, unknown>> {
  return (await traitsByUser(db, [userId])).get(userId) ?? {};
}

/** One person's enrichment (the API's and payloads' hot path), prepared once per connection. */
const enrichmentOf = preparedFor((db) =>
  db
    .select()
    .from(userEnrichments)
    .where(eq(userEnrichments.userId, sql.placeholder("id")))
    .prepare(),
);

export async function traitsByUser(db: DbOrTx, userIds: number[]): Promise<Map<number, Record<string, unknown>>> {
  const out = new Map<number, Record<string, unknown>>();
  if (!userIds.length) return out;
  const rows =
    userIds.length === 1
      ? await enrichmentOf(db).execute({ id: userIds[0] })
      : await db.select().from(userEnrichments).where(inArray(userEnrichments.userId, userIds));
  for (const r of rows) {
    out.set(r.userId, flattenAnswer({ person: r.person, company: r.company }, r.checkedAt));
  }
  return out;
}

function traitChanges(before: Answer | null, after: Answer | null): Record<string, [unknown, unknown]> {
  const a = before ? flattenAnswer(before, null) : {};
  const b = after ? flattenAnswer(after, null) : {};
  const changes: Record<string, [unknown, unknown]> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[k] ?? null) !== JSON.stringify(b[k] ?? null)) changes[k] = [a[k] ?? null, b[k] ?? null];
  }
  return changes;
}

const COLUMN: Record<string, keyof UserRow> = Object.fromEntries(MAPPABLE_USER_FIELDS.map((f) => [f, COLUMN_OF[f]]));

function userValues(row: UserRow, fields: CustomField[]): Record<string, unknown> {
  return apiValues(row, COLUMN, fields);
}

/** Keeps the values a field accepts (as sent, else as text); a provider value never fails the whole merge. */
async function validUserValues(
  tx: Tx,
  values: Record<string, unknown>,
  fields: CustomField[],
): Promise<Record<string, unknown>> {
  return await keepValid(values, async (v) => (await parseUserInput(tx, v, fields)).data);
}

async function validOrganizationValues(
  tx: Tx,
  values: Record<string, unknown>,
  fields: CustomField[],
): Promise<Record<string, unknown>> {
  return await keepValid(values, async (v) => (await parseOrganizationInput(tx, v, fields)).data);
}

async function keepValid(
  values: Record<string, unknown>,
  parse: (v: Record<string, unknown>) => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    for (const candidate of [v, typeof v === "string" ? undefined : String(v)]) {
      if (candidate === undefined) continue;
      try {
        const parsed = (await parse({ [k]: candidate }))[k];
        if (!isEmpty(parsed)) out[k] = parsed;
        break;
      } catch {
        // try the next form, else leave the field alone
      }
    }
  }
  return out;
}

/** A signed callback's body: a JSON object (a signed `null` or `[]` is refused, not a crash). */
function callbackObject(rawBody: string): { id?: unknown; type?: unknown; status?: unknown; body?: unknown } {
  let data: unknown;
  try {
    data = JSON.parse(rawBody);
  } catch {
    data = undefined;
  }
  if (!data || typeof data !== "object" || Array.isArray(data))
    throw new ValidationError([{ field: "body", message: "must be a JSON object with id, type, status and body" }]);
  return data;
}
