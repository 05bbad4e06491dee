import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db, Tx } from "../db/client";
import { settings } from "../db/schema";
import { validate, ValidationError } from "../errors";
import type { SecretBox } from "../secrets";
import { maskSecret } from "../secrets";
import { DEFAULT_ORGANIZATION_MAPPINGS, DEFAULT_USER_MAPPINGS, mappingSchema, type Mapping } from "./mappings";

/** Clearbit's settings, as stored (the key sealed) and as admins edit them. */
const SETTINGS_KEY = "integration.clearbit";

const url = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .max(500)
  .transform((u) => u.replace(/\/+$/, ""));

const settingsShape = {
  enabled: z.boolean(),
  /** Base URLs: any Clearbit-compatible provider can serve. */
  person_url: url,
  company_url: url,
  /** The streaming host answers once the lookup is done (no 202). */
  stream_url: url,
  use_streaming: z.boolean(),
  /** Ask the provider to POST queued results to our callback endpoint. */
  use_callbacks: z.boolean(),
  create_organizations: z.boolean(),
  organizations_shared: z.boolean(),
  refresh_interval_hours: z
    .number()
    .int()
    .min(1, "must be at least 1")
    .max(24 * 365),
  backfill_window_days: z.number().int().min(1, "must be at least 1").max(3650),
  unknown_retry_days: z.number().int().min(1, "must be at least 1").max(3650),
  rate_limit_per_minute: z.number().int().min(1, "must be at least 1").max(1_000_000),
  /** The hourly schedule starts a backfill when the last one is this old (Heap: every 24 hours). */
  backfill_every_hours: z
    .number()
    .int()
    .min(1, "must be at least 1")
    .max(24 * 365),
  user_mappings: z.array(mappingSchema).max(100),
  organization_mappings: z.array(mappingSchema).max(100),
};

export type ClearbitSettings = { [K in keyof typeof settingsShape]: z.output<(typeof settingsShape)[K]> } & {
  /** Sealed with the secret box; null until a key is saved. */
  api_key_sealed: string | null;
  api_key_mask: string | null;
};

export const DEFAULT_SETTINGS: ClearbitSettings = {
  enabled: false,
  person_url: "https://person.clearbit.com",
  company_url: "https://company.clearbit.com",
  stream_url: "https://person-stream.clearbit.com",
  use_streaming: false,
  use_callbacks: true,
  create_organizations: false,
  organizations_shared: false,
  refresh_interval_hours: 24,
  backfill_window_days: 7,
  unknown_retry_days: 30,
  rate_limit_per_minute: 600,
  backfill_every_hours: 24,
  user_mappings: DEFAULT_USER_MAPPINGS,
  organization_mappings: DEFAULT_ORGANIZATION_MAPPINGS,
  api_key_sealed: null,
  api_key_mask: null,
};

/** What an admin sends: every setting optional (absent = unchanged); api_key must start with sk_. */
export const settingsInput = z.strictObject({
  ...Object.fromEntries(Object.entries(settingsShape).map(([k, s]) => [k, s.optional()])),
  api_key: z
    .string()
    .trim()
    .refine((key) => key.startsWith("sk_"), "must be a secret key starting with sk_")
    .refine(
      (key) => !key.startsWith("sk_") || /^sk_[A-Za-z0-9_-]{8,200}$/.test(key),
      "must be sk_ followed by 8 to 200 letters, digits, - or _",
    )
    .optional(),
}) as unknown as z.ZodType<Partial<Omit<ClearbitSettings, "api_key_sealed" | "api_key_mask">> & { api_key?: string }>;

export async function readSettings(db: Db): Promise<ClearbitSettings> {
  const row = (await db.select().from(settings).where(eq(settings.key, SETTINGS_KEY)).limit(1))[0];
  return { ...DEFAULT_SETTINGS, ...((row?.value as Partial<ClearbitSettings>) ?? {}) };
}

/**
 * Validates and stores a change, calling `changed` in the writing transaction (the nodes' copies);
 * returns the new settings and whether the key changed.
 */
export async function saveSettings(
  db: Db,
  secrets: SecretBox,
  input: unknown,
  validTargets: { user: Set<string>; organization: Set<string> },
  changed: (tx: Tx) => void,
): Promise<{ settings: ClearbitSettings; keyChanged: boolean }> {
  const data = validate(settingsInput, input ?? {});
  const issues = [
    ...badTargets(data.user_mappings, validTargets.user, "user_mappings"),
    ...badTargets(data.organization_mappings, validTargets.organization, "organization_mappings"),
  ];
  if (issues.length) throw new ValidationError(issues);
  const current = await readSettings(db);
  const { api_key, ...rest } = data;
  const next: ClearbitSettings = { ...current, ...rest };
  if (api_key) {
    next.api_key_sealed = await secrets.encrypt(api_key);
    next.api_key_mask = maskSecret(api_key);
  }
  if (next.enabled && !next.api_key_sealed)
    throw new ValidationError([{ field: "api_key", message: "is required to enable Clearbit" }]);
  await db.transaction(async (tx) => {
    await tx
      .insert(settings)
      .values({ key: SETTINGS_KEY, value: next, updatedAt: new Date() })
      .onConflictDoUpdate({ target: settings.key, set: { value: next, updatedAt: new Date() } });
    changed(tx);
  });
  return { settings: next, keyChanged: Boolean(api_key) };
}

function badTargets(mappings: Mapping[] | undefined, valid: Set<string>, field: string) {
  return (mappings ?? []).flatMap((m, i) =>
    valid.has(m.target)
      ? []
      : [{ field: `${field}.${i}.target`, message: `"${m.target}" is not a field that can be mapped` }],
  );
}

/** Settings as the API and the page show them: the key only masked. */
export function settingsJson(s: ClearbitSettings) {
  const { api_key_sealed, api_key_mask, ...rest } = s;
  return { ...rest, api_key: api_key_mask, api_key_set: api_key_sealed !== null };
}
