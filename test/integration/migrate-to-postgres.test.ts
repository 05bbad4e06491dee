/**
 * `switchboard migrate-to-postgres` on a populated appliance: every row of every table arrives on
 * PostgreSQL equal (read through the same table objects on both sides), identity sequences continue
 * past SQLite's, and what must be refused is refused (a non-empty target, a running server).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asc, type Column, eq, getTableColumns } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { drizzle } from "drizzle-orm/postgres-js";
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { openDatabase, type Db } from "../../src/db/client";
import { SQLITE_TABLES, tableName } from "../../src/db/migrate-to-postgres";
import { openPostgres, type PostgresClient } from "../../src/db/pg-client";
import { organizations, settings, users } from "../../src/db/schema";
import { startApi } from "../support/api";
import { startJsonServer } from "../support/json-server";
import { POSTGRES_TEST_TIMEOUT, postgresDatabase } from "../support/postgres";
import { runCli } from "../support/process";
import { tempDir } from "../support/server";

setDefaultTimeout(POSTGRES_TEST_TIMEOUT + 60_000);

const dataDir = tempDir("switchboard-migrate-");
let url: string;
let migrated: Awaited<ReturnType<typeof runCli>>;
let client: PostgresClient;
let pg: BunSQLiteDatabase;
let sqlite: Db;
let deletedUserId: number;

/** Rows in primary-key order, so both stores list them alike. */
function ordered(db: Pick<BunSQLiteDatabase, "select">, table: SQLiteTable) {
  const config = getTableConfig(table);
  const key: Column[] = config.columns.filter((c) => c.primary);
  const composite = config.primaryKeys[0]?.columns ?? [];
  const order = (key.length ? key : composite).map((c) => asc(c));
  return db
    .select(getTableColumns(table))
    .from(table)
    .orderBy(...order);
}

beforeAll(async () => {
  url = await postgresDatabase();
  const crm = await startJsonServer();
  // The source is a SQLite appliance on either pass of the suite.
  const api = await startApi({ dataDir, databaseUrl: "" });
  try {
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await api.call(method, path, body);
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    const sync = await call("POST", "/api/v1/crm_syncs", {
      name: "CRM",
      create: {
        unique_id_path: "$.id",
        method: "POST",
        url: `${crm.url}/people`,
        data: '{"email": "{{ person.email }}"}',
      },
    });
    // Unreachable: its deliveries stay queued, waiting for their retry.
    const hook = await call("POST", "/api/v1/webhooks", {
      name: "LAN service",
      url: "http://127.0.0.1:9/hook",
      signature_token: "hub-secret-123",
      retry_base_seconds: 3600,
    });
    await call("POST", "/api/v1/triggers", { name: "people", events: ["user.created"], webhook_ids: [hook.id] });
    await call("PUT", "/api/v1/integrations/clearbit", { enabled: false, api_key: "sk_live_clearbit_key_123456789" });
    await call("POST", "/api/v1/write_keys", { name: "website" });
    const org = await call("POST", "/api/v1/organizations", { name: "Acme", domain: "acme.com" });
    const people = [];
    for (const name of ["ada", "grace", "linus", "barbara"])
      people.push(
        await call("POST", "/api/v1/users", {
          email: `${name}@acme.com`,
          firstname: name,
          lastname: "Example",
          organization_id: org.id,
          vip: name === "ada",
          traits: { plan: "pro", seats: 3 },
        }),
      );
    await call("POST", "/api/v1/tickets", {
      title: "Printer on fire",
      customer_id: people[0].id,
      article: {
        body: "It is on fire",
        sender: "Customer",
        type: "email",
        attachments: [{ filename: "f.bin", content_type: "application/octet-stream", data: "AAEC/w==" }],
      },
    });
    // The last person is deleted: SQLite never gives the id again, nor may PostgreSQL.
    deletedUserId = people.at(-1).id;
    await call("DELETE", `/api/v1/users/${deletedUserId}`);
    const deadline = Date.now() + 20_000;
    while ((await call("GET", `/api/v1/crm_syncs/${sync.id}`)).state.queued_calls > 0 && Date.now() < deadline)
      await Bun.sleep(50);
  } finally {
    await api.server.close();
    await crm.stop();
  }
  migrated = await runCli(["migrate-to-postgres", "--data-dir", dataDir, "--database-url", url], {
    timeoutMs: 60_000,
  });
  client = openPostgres(url);
  pg = drizzle({ client }) as unknown as BunSQLiteDatabase;
  sqlite = openDatabase(join(dataDir, "switchboard.db"));
});

afterAll(async () => {
  await sqlite?.close();
  await client?.end();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("switchboard migrate-to-postgres", () => {
  test("succeeds and prints a per-table summary and the next step", () => {
    expect(migrated.stderr).toBe("");
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(/^ {2}users +4$/m);
    expect(migrated.stdout).toContain("row counts verified");
    expect(migrated.stdout).toContain("--database-url 'postgres://postgres@127.0.0.1:");
    expect(migrated.stdout).toContain(`copy ${join(dataDir, "secret.key")} to every node`);
  });

  test("the appliance holds what the test meant to copy", async () => {
    const count = async (table: SQLiteTable) => (await ordered(sqlite, table)).length;
    const { sessions, apiTokens, tickets, attachments } = await import("../../src/db/schema");
    const { deliveryJobs } = await import("../../src/delivery/schema");
    const { crmSyncLinks } = await import("../../src/crm-sync/schema");
    const { webhooks } = await import("../../src/webhooks/schema");
    for (const table of [sessions, apiTokens, tickets, attachments, crmSyncLinks, webhooks, organizations])
      expect(await count(table)).toBeGreaterThan(0);
    const queued = await sqlite.select().from(deliveryJobs).where(eq(deliveryJobs.destination, "webhook:1"));
    expect(queued.length).toBeGreaterThan(0);
    expect(queued.every((j) => j.status === "pending")).toBe(true);
  });

  for (const table of SQLITE_TABLES) {
    test(`${tableName(table)}: every row equal on PostgreSQL`, async () => {
      expect(await ordered(pg, table)).toEqual(await ordered(sqlite, table));
    });
  }

  test("secrets arrive sealed, as stored", async () => {
    const [clearbit] = await pg.select().from(settings).where(eq(settings.key, "integration.clearbit"));
    const stored = JSON.stringify(clearbit?.value);
    expect(stored).toContain("api_key_sealed");
    expect(stored).not.toContain("sk_live_clearbit_key_123456789");
  });

  test("identity sequences continue past SQLite's: a new row gets the next id, never a deleted one's", async () => {
    const [org] = await pg.insert(organizations).values({ name: "Next Inc" }).returning({ id: organizations.id });
    const [maxOrg] = await sqlite.select({ id: organizations.id }).from(organizations).orderBy(asc(organizations.id));
    expect(org?.id).toBeGreaterThan(maxOrg?.id ?? 0);
    const [user] = await pg.insert(users).values({ login: "new" }).returning({ id: users.id });
    expect(user?.id).toBe(deletedUserId + 1);
  });

  test("a second run refuses the now non-empty database", async () => {
    const again = await runCli(["migrate-to-postgres", "--data-dir", dataDir, "--database-url", url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("the target database is not empty");
  });

  test("refused while a server holds the data directory", async () => {
    const fresh = await postgresDatabase();
    const lock = join(dataDir, "switchboard.lock");
    writeFileSync(lock, String(process.pid)); // a live process that is not the CLI's
    try {
      const r = await runCli(["migrate-to-postgres", "--data-dir", dataDir, "--database-url", fresh]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`in use by another Switchboard process (pid ${process.pid}): stop it first`);
    } finally {
      rmSync(lock, { force: true });
    }
  });

  test("needs a database URL", async () => {
    const r = await runCli(["migrate-to-postgres", "--data-dir", dataDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("needs --database-url");
  });
});
