import { z } from "zod";
import { isAddressOrRange } from "./http/client-address";

/** Every setting: its flag, its environment variable, its default and its meaning (shown by --help). */
export const SETTINGS = {
  host: { env: "SWITCHBOARD_HOST", flag: "--host", help: "address to listen on", default: "127.0.0.1" },
  port: {
    env: "SWITCHBOARD_PORT",
    flag: "--port",
    help: "TCP port to listen on (0 picks a free one)",
    default: "8080",
  },
  dataDir: {
    env: "SWITCHBOARD_DATA_DIR",
    flag: "--data-dir",
    help: "directory for the database, key file and attachments",
    default: "./data",
  },
  databaseUrl: {
    env: "SWITCHBOARD_DATABASE_URL",
    flag: "--database-url",
    help: "PostgreSQL database (postgres://user:password@host:5432/db); empty: SQLite in the data dir",
    default: "",
  },
  baseUrl: {
    env: "SWITCHBOARD_BASE_URL",
    flag: "--base-url",
    help: "public URL admins and receivers use (https makes cookies Secure)",
    default: "",
  },
  logLevel: { env: "SWITCHBOARD_LOG_LEVEL", flag: "--log-level", help: "debug | info | warn | error", default: "info" },
  bodyLimit: {
    env: "SWITCHBOARD_BODY_LIMIT",
    flag: "--body-limit",
    help: "largest request body in bytes",
    default: "1048576",
  },
  importLimit: {
    env: "SWITCHBOARD_IMPORT_LIMIT",
    flag: "--import-limit",
    help: "largest CSV import in bytes",
    default: "104857600",
  },
  sessionIdleMinutes: {
    env: "SWITCHBOARD_SESSION_IDLE_MINUTES",
    flag: "--session-idle-minutes",
    help: "sign admins out after this long without a request",
    default: "480",
  },
  sessionMaxHours: {
    env: "SWITCHBOARD_SESSION_MAX_HOURS",
    flag: "--session-max-hours",
    help: "sign admins out this long after sign-in, however active",
    default: "72",
  },
  secretKeyFile: {
    env: "SWITCHBOARD_SECRET_KEY_FILE",
    flag: "--secret-key-file",
    help: "key file sealing stored secrets; every node of a cluster needs the same (empty: secret.key in the data dir)",
    default: "",
  },
  nodeId: {
    env: "SWITCHBOARD_NODE_ID",
    flag: "--node-id",
    help: "this node's name in a cluster, unique per node (empty: host name and data directory)",
    default: "",
  },
  trustedProxy: {
    env: "SWITCHBOARD_TRUSTED_PROXY",
    flag: "--trusted-proxy",
    help:
      "reverse proxy addresses or CIDR ranges, comma-separated, " +
      "whose X-Forwarded-For names the client (empty: none)",
    default: "",
  },
} as const;

export type SettingName = keyof typeof SETTINGS;

/** A whole number written in digits: "", "1e3", "0x50" or "80abc" are refused, never read as 0, 1000 or 80. */
const wholeNumber = () =>
  z.string().trim().regex(/^\d+$/, "must be a whole number").transform(Number).pipe(z.number().int());

const configSchema = z.object({
  host: z.string().trim().min(1, "must not be empty"),
  port: wholeNumber().pipe(z.number().max(65535, "must be at most 65535")),
  dataDir: z.string().min(1, "must not be empty"),
  databaseUrl: z.union([
    z.literal(""),
    z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// or postgresql:// URL" }),
  ]),
  baseUrl: z
    .union([z.literal(""), z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })])
    .transform((v) => v.replace(/\/+$/, "")),
  logLevel: z.enum(["debug", "info", "warn", "error"]),
  bodyLimit: wholeNumber().pipe(z.number().min(1024, "must be at least 1024")),
  importLimit: wholeNumber().pipe(z.number().min(1024, "must be at least 1024")),
  sessionIdleMinutes: wholeNumber().pipe(z.number().min(1, "must be at least 1")),
  sessionMaxHours: wholeNumber().pipe(z.number().min(1, "must be at least 1")),
  secretKeyFile: z.string(),
  nodeId: z
    .string()
    .trim()
    .regex(
      /^(?:[A-Za-z0-9][A-Za-z0-9._:-]{0,63})?$/,
      "must be up to 64 letters, digits, dots, colons, dashes or underscores",
    ),
  trustedProxy: z
    .string()
    .transform((v) => v.split(/[\s,]+/).filter(Boolean))
    .pipe(z.array(z.string().refine(isAddressOrRange, "must be IP addresses or CIDR ranges separated by commas"))),
});

export type Config = z.infer<typeof configSchema> & {
  /** The URL links and cookies are built for: the base URL, or the listening address. */
  publicUrl: string;
  secureCookies: boolean;
  sessionLimits: { idleMs: number; maxAgeMs: number };
};

export class ConfigError extends Error {}

/**
 * Settings come from flags first, then SWITCHBOARD_* variables, then defaults.
 * A bad value throws a ConfigError whose one-line message names the setting.
 */
export function loadConfig(
  flags: Partial<Record<SettingName, string>>,
  env: Record<string, string | undefined> = process.env,
): Config {
  const raw: Record<string, string> = {};
  for (const [name, setting] of Object.entries(SETTINGS)) {
    // An empty environment variable counts as unset (a common way to "clear" one); an empty flag does not.
    raw[name] = flags[name as SettingName] ?? (env[setting.env] || undefined) ?? setting.default;
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const setting = SETTINGS[issue.path[0] as SettingName];
    // A database URL may carry a password: never echo it.
    const value = issue.path[0] === "databaseUrl" ? "" : ` ${JSON.stringify(raw[issue.path[0] as string])}`;
    throw new ConfigError(`invalid setting ${setting.flag} (${setting.env})${value}: ${issue.message}`);
  }
  const config = parsed.data;
  const publicUrl =
    config.baseUrl || `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${config.port}`;
  const sessionLimits = { idleMs: config.sessionIdleMinutes * 60_000, maxAgeMs: config.sessionMaxHours * 3_600_000 };
  return { ...config, publicUrl, secureCookies: publicUrl.startsWith("https:"), sessionLimits };
}
