import { asc, eq } from "drizzle-orm";
import { JSONPath } from "jsonpath-plus";
import { z } from "zod";
import type { Condition } from "../conditions";
import { NodeCache } from "../cluster/node-cache";
import type { Db, Tx } from "../db/client";
import { organizations } from "../db/schema";
import type { DeliveryEngine } from "../delivery";
import { ROLE_NAMES } from "../domain/roles";
import { notFound, validate, ValidationError, type FieldIssue } from "../errors";
import { maskedHeaders, sealSecretHeaders, secretHeadersSchema } from "../delivery/secret-headers";
import { maskSecret, SECRET_MASK, type SecretBox } from "../secrets";
import { renderUrl } from "../templates";
import { checkOperation, renderCall } from "./render";
import { crmSyncs, type CrmFilter, type CrmOperation } from "./schema";
import { SAMPLE_PERSON, templateView, type PersonSource } from "./tokens";

export type CrmSync = typeof crmSyncs.$inferSelect;
export type OperationName = "create" | "update" | "delete";
export const OPERATIONS: OperationName[] = ["create", "update", "delete"];
export const CRM_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** The delivery destination of a sync: its own health, pause state and strict per-user order. */
export const destinationOf = (syncId: number) => `crm:${syncId}`;
export const orderingKeyOf = (syncId: number, userId: number) => `crm:${syncId}:user:${userId}`;

const template = (max: number) => z.string().max(max, `must be at most ${max} characters`).default("");
const operationShape = (method: (typeof CRM_METHODS)[number], enabledByDefault: boolean) => ({
  enabled: z.boolean().default(enabledByDefault),
  method: z.enum(CRM_METHODS).default(method),
  url: template(2000),
  headers: template(10_000),
  data: template(100_000),
  tls_verify: z.boolean().default(true),
  timeout: z
    .number()
    .int("must be a whole number of seconds")
    .min(1, "must be at least 1 second")
    .max(300, "must be at most 300 seconds")
    .default(15),
});

/** A sync as the API takes it (snake_case; templates as strings). */
export const syncInputSchema = z.strictObject({
  name: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters"),
  enabled: z.boolean().default(true),
  auth: z
    .strictObject({
      type: z.enum(["none", "basic", "bearer"]).default("none"),
      username: z.string().max(200).optional(),
      /** Basic auth; omitted or "" on an update keeps the saved one. */
      password: z.string().max(500).optional(),
      /** Bearer; omitted or "" on an update keeps the saved one. */
      token: z.string().max(2000).optional(),
    })
    .default({ type: "none" }),
  /**
   * Sent with every call; sealed at rest and masked in answers; omitted keeps them, the mask as a value keeps that one.
   */
  secret_headers: secretHeadersSchema.optional(),
  /** Allows URLs that reach this server itself (refused by default: a loop feeding our own ingest). */
  allow_self: z.boolean().default(false),
  filter: z
    .strictObject({
      role: z.enum(ROLE_NAMES).nullable().default(null),
      organization_id: z.number().int().positive().nullable().default(null),
    })
    .default({ role: null, organization_id: null }),
  create: z.strictObject({
    ...operationShape("POST", true),
    unique_id_path: z.string().trim().max(500).default(""),
    /** Only creations are sent (no CRM id is read back): the explicit choice an empty unique_id_path needs. */
    create_only: z.boolean().default(false),
  }),
  update: z.strictObject(operationShape("PUT", false)).default(z.strictObject(operationShape("PUT", false)).parse({})),
  delete: z
    .strictObject(operationShape("DELETE", false))
    .default(z.strictObject(operationShape("DELETE", false)).parse({})),
});
type ValidInput = z.output<typeof syncInputSchema>;

const toOperation = (
  o: z.output<ReturnType<typeof z.strictObject<ReturnType<typeof operationShape>>>>,
): CrmOperation => ({
  enabled: o.enabled,
  method: o.method,
  url: o.url.trim(),
  headers: o.headers,
  data: o.data,
  tlsVerify: o.tls_verify,
  timeoutSeconds: o.timeout,
});
const fromOperation = (o: CrmOperation) => ({
  enabled: o.enabled,
  method: o.method,
  url: o.url,
  headers: o.headers,
  data: o.data,
  tls_verify: o.tlsVerify,
  timeout: o.timeoutSeconds,
});

/** The filter in the shared condition language, over a person's roles and organization: all must hold. */
export function filterConditions(f: CrmFilter): Condition[] {
  const out: Condition[] = [];
  if (f.role) out.push({ field: "roles", op: "is", value: f.role });
  if (f.organizationId) out.push({ field: "organization_id", op: "is", value: String(f.organizationId) });
  return out;
}

/** The API shape of a sync: secrets masked, never returned. */
export function syncJson(s: CrmSync, secretPlain?: string) {
  return {
    id: s.id,
    name: s.name,
    enabled: s.enabled,
    auth: {
      type: s.authType,
      username: s.authType === "basic" ? s.authUsername : null,
      secret_set: Boolean(s.authSecret),
      secret: s.authSecret ? (secretPlain ? maskSecret(secretPlain) : SECRET_MASK) : null,
    },
    secret_headers: maskedHeaders(s.secretHeadersSealed),
    allow_self: s.allowSelf,
    filter: { role: s.filter.role, organization_id: s.filter.organizationId },
    create: {
      ...fromOperation(s.createOp),
      enabled: true,
      unique_id_path: s.uniqueIdPath,
      create_only: !s.uniqueIdPath,
    },
    update: fromOperation(s.updateOp),
    delete: fromOperation(s.deleteOp),
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
  };
}

/** The editable state of a saved sync in input form (secrets left out: omitted means "keep"). */
export function syncAsInput(s: CrmSync): ValidInput {
  const j = syncJson(s);
  return {
    name: j.name,
    enabled: j.enabled,
    auth: { type: s.authType, username: s.authUsername ?? undefined },
    secret_headers: j.secret_headers,
    allow_self: j.allow_self,
    filter: j.filter,
    create: j.create,
    update: j.update,
    delete: j.delete,
  };
}

export async function listSyncs(db: Db): Promise<CrmSync[]> {
  return await db.select().from(crmSyncs).orderBy(asc(crmSyncs.id));
}

const syncCaches = new WeakMap<Db, NodeCache<Map<number, CrmSync>>>();

/** The syncs by id as the planner (every user event) and the handler (every call) read them: a NodeCache per store. */
function syncCache(db: Db): NodeCache<Map<number, CrmSync>> {
  let cache = syncCaches.get(db);
  if (!cache) {
    cache = new NodeCache(db, "crm-syncs", async () => new Map((await listSyncs(db)).map((s) => [s.id, s])));
    syncCaches.set(db, cache);
  }
  return cache;
}

/** Every sync by id, from the node's copy (read again after any write to a sync). */
export async function cachedSyncs(db: Db): Promise<Map<number, CrmSync>> {
  const cache = syncCache(db);
  return await cache.get();
}

/** In a transaction writing crm_syncs: the copies are read again (on every node). */
export function syncsChanged(db: Db, tx: Tx): void {
  syncCache(db).changed(tx);
}

export async function getSync(db: Db, id: number): Promise<CrmSync> {
  const s = (await db.select().from(crmSyncs).where(eq(crmSyncs.id, id)).limit(1))[0];
  if (!s) throw notFound("CRM sync");
  return s;
}

function checkUniqueIdPath(path: string, createOnly: boolean): FieldIssue[] {
  if (!path && !createOnly)
    return [
      {
        field: "create.unique_id_path",
        message:
          'is required: the JSONPath of the CRM\'s id in the create response (e.g. $.id), or tick "create only" ' +
          "to send only creations (updates and deletes need the id)",
      },
    ];
  if (createOnly && path)
    return [{ field: "create.unique_id_path", message: 'must be empty with "create only" (no id is read back)' }];
  if (!path) return [];
  if (!path.startsWith("$"))
    return [
      { field: "create.unique_id_path", message: "must be a JSONPath starting with $ (e.g. $.id or $.data.record.id)" },
    ];
  try {
    JSONPath({ path, json: { id: 1 }, wrap: false });
    return [];
  } catch (err) {
    return [{ field: "create.unique_id_path", message: `is not a valid JSONPath: ${(err as Error).message}` }];
  }
}

/**
 * Every check a sync must pass before it is saved: required URLs, auth completeness, a real
 * organization, and each template rendered against a person (the preview person, or a sample).
 */
async function checkSync(
  db: Db,
  input: ValidInput,
  opts: { person?: PersonSource; secretKept: boolean },
): Promise<FieldIssue[]> {
  const issues: FieldIssue[] = [];
  const view = templateView(opts.person ?? SAMPLE_PERSON, "12345");
  for (const name of OPERATIONS) {
    const op = input[name];
    const active = name === "create" || op.enabled;
    if (!op.url.trim()) {
      if (active) issues.push({ field: `${name}.url`, message: "is required" });
      continue;
    }
    issues.push(...checkOperation(name, toOperation(op), view));
  }
  issues.push(...checkUniqueIdPath(input.create.unique_id_path, input.create.create_only));
  const a = input.auth;
  if (a.type === "basic" && !a.username?.trim())
    issues.push({ field: "auth.username", message: "is required for basic authentication" });
  if (a.type === "basic" && !a.password && !opts.secretKept)
    issues.push({ field: "auth.password", message: "is required for basic authentication" });
  if (a.type === "bearer" && !a.token && !opts.secretKept)
    issues.push({ field: "auth.token", message: "is required for bearer authentication" });
  const orgId = input.filter.organization_id;
  if (
    orgId &&
    !(await db.select({ id: organizations.id }).from(organizations).where(eq(organizations.id, orgId)).limit(1))[0]
  ) {
    issues.push({ field: "filter.organization_id", message: "no such organization" });
  }
  return issues;
}

type SaveDeps = {
  db: Db;
  secrets: SecretBox;
  delivery: DeliveryEngine;
  selfTarget: (url: string) => Promise<string | null>;
};

/** Each active call's URL (rendered for the sample person) must not reach this server, unless allowed. */
async function selfTargetIssues(deps: SaveDeps, input: ValidInput): Promise<FieldIssue[]> {
  if (input.allow_self) return [];
  const issues: FieldIssue[] = [];
  const view = templateView(SAMPLE_PERSON, "12345");
  for (const name of OPERATIONS) {
    const op = input[name];
    if (!op.url.trim() || (name !== "create" && !op.enabled)) continue;
    const reason = await deps.selfTarget(renderUrl(op.url, view));
    if (reason)
      issues.push({
        field: `${name}.url`,
        message:
          `points to this Switchboard server itself: ${reason}; ` +
          "a sync there would feed its own changes back in a loop. " +
          "Allow it explicitly (allow_self) if that is intended",
      });
  }
  return issues;
}

function parseInput(input: unknown): ValidInput {
  return validate(syncInputSchema, input);
}

async function row(deps: SaveDeps, input: ValidInput, existing?: CrmSync) {
  const a = input.auth;
  const newSecret = a.type === "basic" ? a.password : a.type === "bearer" ? a.token : undefined;
  const keep =
    existing !== undefined &&
    existing.authType === a.type &&
    a.type !== "none" &&
    !newSecret &&
    Boolean(existing.authSecret);
  const issues = await checkSync(deps.db, input, { secretKept: keep });
  if (!issues.length) issues.push(...(await selfTargetIssues(deps, input)));
  if (issues.length) throw new ValidationError(issues);
  const secretHeadersSealed = await sealSecretHeaders(
    deps.secrets,
    input.secret_headers,
    existing?.secretHeadersSealed ?? null,
    [],
  );
  // Encrypted before the transaction: no await inside it.
  const authSecret =
    a.type === "none" ? null : newSecret ? await deps.secrets.encrypt(newSecret) : keep ? existing!.authSecret : null;
  const filter: CrmFilter = { role: input.filter.role, organizationId: input.filter.organization_id };
  return {
    name: input.name,
    enabled: input.enabled,
    authType: a.type,
    authUsername: a.type === "basic" ? a.username!.trim() : null,
    authSecret,
    secretHeadersSealed,
    allowSelf: input.allow_self,
    filter,
    uniqueIdPath: input.create.unique_id_path,
    createOp: { ...toOperation(input.create), enabled: true },
    updateOp: toOperation(input.update),
    deleteOp: toOperation(input.delete),
  };
}

/** Applies the enabled switch to the destination: a disabled sync holds its queued calls. */
async function applyEnabled(deps: SaveDeps, s: CrmSync): Promise<void> {
  if (s.enabled) await deps.delivery.enableDestination(destinationOf(s.id));
  else await deps.delivery.pauseDestination(destinationOf(s.id), null, "the sync is disabled");
}

export async function createSync(deps: SaveDeps, input: unknown): Promise<CrmSync> {
  const values = await row(deps, parseInput(input));
  const s = await deps.db.transaction(async (tx) => {
    const created = (await tx.insert(crmSyncs).values(values).returning())[0]!;
    syncsChanged(deps.db, tx);
    // Strict FIFO per person: create before update before delete, one call at a time per person.
    await deps.delivery.configureDestination(tx, destinationOf(created.id), { strictOrder: true });
    return created;
  });
  if (!s.enabled) await applyEnabled(deps, s);
  return s;
}

/** A full or partial update: fields not given keep their saved values (secrets too). */
export async function updateSync(deps: SaveDeps, id: number, patch: unknown): Promise<CrmSync> {
  const existing = await getSync(deps.db, id);
  const base = syncAsInput(existing);
  const p = validate(z.record(z.string(), z.unknown()), patch ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...base, ...p };
  for (const k of ["auth", "filter", "create", "update", "delete"] as const) {
    if (p[k] && typeof p[k] === "object" && !Array.isArray(p[k]))
      merged[k] = { ...(base[k] as object), ...(p[k] as object) };
  }
  // A changed auth type starts from a clean slate (no username carried over from basic to bearer).
  const auth = merged.auth as Record<string, unknown>;
  if (auth.type !== existing.authType && auth.username === existing.authUsername && auth.type !== "basic")
    delete auth.username;
  if (auth.username === undefined) delete auth.username;
  const values = await row(deps, parseInput(merged), existing);
  const s = await deps.db.transaction(async (tx) => {
    syncsChanged(deps.db, tx);
    return (
      await tx
        .update(crmSyncs)
        .set({ ...values, updatedAt: new Date() })
        .where(eq(crmSyncs.id, id))
        .returning()
    )[0]!;
  });
  if (s.enabled !== existing.enabled) await applyEnabled(deps, s);
  return s;
}

/** Removes a sync with its links and notes; its queued calls are cancelled. */
export async function deleteSync(deps: SaveDeps, id: number): Promise<void> {
  await getSync(deps.db, id);
  const pending = await deps.delivery.listJobs({ destination: destinationOf(id), status: "pending", limit: 500 });
  await deps.db.transaction(async (tx) => {
    syncsChanged(deps.db, tx);
    await tx.delete(crmSyncs).where(eq(crmSyncs.id, id));
  });
  for (const j of pending) await deps.delivery.cancel(j.id);
  // Jobs beyond the first page are skipped at send time: their sync is gone.
}

/** Renders every operation of a sync (saved or proposed) for one person: what would be sent. */
export function previewSync(input: unknown, person: PersonSource, externalId: string | null) {
  const valid = parseInput(input);
  const view = templateView(person, externalId ?? "12345");
  const out: Record<string, unknown> = {};
  const issues: FieldIssue[] = [];
  for (const name of OPERATIONS) {
    const op = toOperation(valid[name]);
    if (name !== "create" && !op.enabled) continue;
    const found = checkOperation(name, op, view);
    issues.push(...found);
    if (!found.length && op.url) out[name] = renderPreview(op, view);
  }
  return { requests: out, errors: issues };
}

function renderPreview(op: CrmOperation, view: ReturnType<typeof templateView>) {
  const c = renderCall(op, view);
  return { method: c.method, url: c.url, headers: c.headers, body: c.body ?? null };
}
