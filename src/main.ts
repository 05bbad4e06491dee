#!/usr/bin/env bun
import { backupInto, PG_BACKUP_HINT, quickCheckFile } from "./db/maintenance";
import { closeSync, existsSync, openSync } from "node:fs";
import os from "node:os";
import { ConfigError, loadConfig, SETTINGS, type SettingName } from "./config";
import { PRIVATE_FILE_MODE } from "./db/client";
import { createAdmin, findAdminByEmail } from "./domain/admins";
import { apiTokenStore } from "./domain/credentials";
import { EventFeed } from "./events/feed";
import { AppError } from "./errors";
import { createLogger } from "./log";
import { DataDirLockedError, lockDataDir } from "./db/lock";
import { dataPaths, openDataDir, openStore, type RunningServer, startServer } from "./server";
import { RESTORE_HINT } from "./startup-error";
import { VERSION } from "./version";

const HELP = `Switchboard ${VERSION}: people, organizations and tickets, Clearbit enrichment, webhooks and CRM sync.

Usage:
  switchboard [serve] [settings]                         start the server (default)
  switchboard admin create --email E --password-stdin    create an administrator (password read from stdin)
          [--firstname F] [--lastname L]
  switchboard token create --admin EMAIL --name NAME     create an API token owned by that administrator;
                                                         prints only the token, once
  switchboard backup <file> [--data-dir D]               write a consistent copy of the SQLite database to <file>
                                                         (on PostgreSQL use pg_dump)
  switchboard check [--data-dir D]                       read every page of the SQLite database and report damage
                                                         (start-up does only after an unclean stop or a change)
  switchboard migrate-to-postgres --database-url URL     copy this appliance (stopped) into an empty PostgreSQL
          [--data-dir D]                                 database, the move to cluster mode
  switchboard version                                    print the version
  switchboard --help                                     this text

Settings (flag, environment variable, default):
${Object.values(SETTINGS)
  .map(
    (s) => `  ${`${s.flag} <value>`.padEnd(30)} ${s.env.padEnd(34)} ${JSON.stringify(s.default).padEnd(10)} ${s.help}`,
  )
  .join("\n")}
`;

class UsageError extends Error {}

type Parsed = { positionals: string[]; options: Record<string, string | true> };

function parseArgs(argv: string[]): Parsed {
  const positionals: string[] = [];
  const options: Record<string, string | true> = {};
  const flagsTakingValues = new Set([
    ...Object.values(SETTINGS).map((s) => s.flag.slice(2)),
    "email",
    "firstname",
    "lastname",
    "admin",
    "name",
  ]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (eq >= 0) options[name] = arg.slice(eq + 1);
    else if (flagsTakingValues.has(name)) {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      options[name] = value;
    } else options[name] = true;
  }
  return { positionals, options };
}

function settingFlags(options: Parsed["options"]): Partial<Record<SettingName, string>> {
  const known = new Set(["help", "email", "firstname", "lastname", "password-stdin", "admin", "name"]);
  const flags: Partial<Record<SettingName, string>> = {};
  for (const [name, value] of Object.entries(options)) {
    const setting = Object.entries(SETTINGS).find(([, s]) => s.flag === `--${name}`);
    if (setting) flags[setting[0] as SettingName] = String(value);
    else if (!known.has(name)) throw new UsageError(`unknown option --${name} (see --help)`);
  }
  return flags;
}

async function serve(options: Parsed["options"]) {
  const config = loadConfig(settingFlags(options));
  const log = createLogger(config.logLevel);
  let server: RunningServer | undefined;
  // Listened for before the start, so a signal right after "switchboard listening" still stops
  // cleanly; one during the start ends the process as the signal would (nothing to drain yet).
  const shutdown = (signal: "SIGTERM" | "SIGINT") => {
    if (!server) process.exit(128 + os.constants.signals[signal]);
    log.info("shutting down", { signal });
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error("shutdown failed", { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  server = await startServer(config, log);
}

async function adminCreate(options: Parsed["options"]) {
  const config = loadConfig(settingFlags(options));
  if (typeof options.email !== "string") throw new UsageError("admin create needs --email");
  if (options["password-stdin"] !== true)
    throw new UsageError("admin create reads the password from stdin: pass --password-stdin");
  const password = (await new Response(Bun.stdin.stream()).text()).replace(/\r?\n$/, "");
  const db = await openStore(config);
  try {
    const input = {
      email: options.email,
      password,
      firstname: options.firstname ?? "",
      lastname: options.lastname ?? "",
    };
    const admin = await createAdmin(db, new EventFeed(db), input, { id: null, source: "cli" });
    console.log(`created administrator ${admin.email} (id ${admin.id})`);
  } finally {
    await db.close();
  }
}

/** Prints the new token alone on stdout, so a script can capture it: TOKEN=$(switchboard token create ...). */
async function tokenCreate(options: Parsed["options"]) {
  const config = loadConfig(settingFlags(options));
  if (typeof options.admin !== "string")
    throw new UsageError("token create needs --admin EMAIL (the administrator who owns the token)");
  if (typeof options.name !== "string") throw new UsageError("token create needs --name NAME");
  const db = await openStore(config);
  try {
    const admin = await findAdminByEmail(db, options.admin);
    if (!admin)
      throw new Error(
        `no active administrator with the email ${options.admin.trim().toLowerCase()}; ` +
          "create one with switchboard admin create",
      );
    console.log((await apiTokenStore.create(db, { name: options.name }, admin.id)).secret);
  } finally {
    await db.close();
  }
}

async function backup(positionals: string[], options: Parsed["options"]) {
  const target = positionals[1];
  if (!target) throw new UsageError("backup needs a target file: switchboard backup <file>");
  const config = loadConfig(settingFlags(options));
  if (config.databaseUrl)
    throw new UsageError(`switchboard backup copies the embedded SQLite database; ${PG_BACKUP_HINT}`);
  const dbPath = dataPaths(config.dataDir).db;
  if (!existsSync(dbPath)) throw new UsageError(`no database in ${config.dataDir}`);
  if (existsSync(target)) throw new UsageError(`${target} already exists; choose a new file`);
  const db = openDataDir(config.dataDir);
  try {
    // VACUUM INTO fills an empty file: created here, exclusively and owner-only, as the database is.
    closeSync(openSync(target, "wx", PRIVATE_FILE_MODE));
    // VACUUM INTO writes a consistent snapshot while the server keeps running.
    backupInto(db, target);
    console.log(`backup written to ${target}`);
  } finally {
    await db.close();
  }
}

/** Reads every page of the SQLite database (a server may be running): exit 0 when sound, 1 naming the damage. */
function check(options: Parsed["options"]) {
  const config = loadConfig(settingFlags(options));
  if (config.databaseUrl)
    throw new UsageError("switchboard check reads the embedded SQLite database; PostgreSQL checks its own pages");
  const dbPath = dataPaths(config.dataDir).db;
  if (!existsSync(dbPath)) throw new UsageError(`no database in ${config.dataDir}`);
  let problem: string;
  try {
    const rows = quickCheckFile(dbPath);
    if (rows[0] === "ok") return void console.log(`database ok: ${dbPath} (every page read)`);
    problem = rows.join(" ");
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  throw new Error(`database is damaged: ${dbPath} (${problem.replace(/\s+/g, " ").slice(0, 200)}); ${RESTORE_HINT}`);
}

/**
 * Copies the stopped appliance into PostgreSQL. The data directory's lock is held throughout: a
 * running server would keep writing to SQLite what the nodes would never see, so it is refused.
 */
async function migrateToPostgresCommand(options: Parsed["options"]) {
  const config = loadConfig(settingFlags(options));
  if (!config.databaseUrl)
    throw new UsageError("migrate-to-postgres needs --database-url postgres://user:password@host/database");
  const paths = dataPaths(config.dataDir);
  if (!existsSync(paths.db)) throw new UsageError(`no database in ${config.dataDir} (see --data-dir)`);
  let lock: { release(): void };
  try {
    lock = lockDataDir(paths.lock);
  } catch (err) {
    if (!(err instanceof DataDirLockedError)) throw err;
    throw new Error(`${err.message}: stop it first, so that no change made after the copy is lost`);
  }
  try {
    // Checked and brought to this version's schema, as serve would (the copy needs this version's tables).
    await openDataDir(config.dataDir).close();
    const { formatSummary, migrateToPostgres } = await import("./db/migrate-to-postgres");
    const say = (line: string) => console.log(line);
    say(`copying ${paths.db} into PostgreSQL (${withoutPassword(config.databaseUrl)})`);
    const report = await migrateToPostgres({ sqlitePath: paths.db, databaseUrl: config.databaseUrl, say });
    say(formatSummary(report));
    const keyFile = config.secretKeyFile || paths.key;
    say(
      [
        "",
        "Next: stop using this data directory (keep it as a backup) and start every node on PostgreSQL",
        `with this appliance's secret key (stored secrets are sealed with it): copy ${keyFile} to every node, then`,
        `  switchboard serve --database-url '${withoutPassword(config.databaseUrl)}' --secret-key-file <that file>`,
        "(or SWITCHBOARD_DATABASE_URL and SWITCHBOARD_SECRET_KEY_FILE), behind an HTTP load balancer.",
      ].join("\n"),
    );
  } finally {
    lock.release();
  }
}

/** A database URL fit to print: its password replaced. */
const withoutPassword = (url: string) => url.replace(/^(postgres(?:ql)?:\/\/[^:/@]+):[^@/]*@/, "$1:****@");

async function main(argv: string[]) {
  // Every file this process creates (database, WAL, backups, lock, key) is owner-only, even in a
  // data directory someone else made world-readable (a Docker volume, systemd's StateDirectory).
  process.umask(0o077);
  const { positionals, options } = parseArgs(argv);
  const command = positionals[0] ?? "serve";
  if (options.help || command === "help") return void console.log(HELP);
  if (command === "version") return void console.log(`switchboard ${VERSION}`);
  if (command === "serve") return serve(options);
  if (command === "backup") return backup(positionals, options);
  if (command === "check") return check(options);
  if (command === "migrate-to-postgres") return migrateToPostgresCommand(options);
  if (command === "admin" && positionals[1] === "create") return adminCreate(options);
  if (command === "token" && positionals[1] === "create") return tokenCreate(options);
  throw new UsageError(`unknown command "${positionals.join(" ")}" (see --help)`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof AppError) {
    const fields = Array.isArray(err.details)
      ? err.details.map((d: { field: string; message: string }) => `${d.field} ${d.message}`).join("; ")
      : "";
    console.error(`switchboard: ${fields || err.message}`);
  } else if (err instanceof UsageError || err instanceof ConfigError || err instanceof Error) {
    console.error(`switchboard: ${err.message}`);
  } else console.error(`switchboard: ${String(err)}`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
