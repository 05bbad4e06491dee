import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { migrate as drizzleMigrate } from "drizzle-orm/bun-sqlite/migrator";
import { openDatabase } from "../../src/db/client";
import { migrate, SchemaTooNewError } from "../../src/db/migrate";
import { migrations as embedded } from "../../src/db/migrations.generated";
import { ROOT } from "../support/process";
import { tempDir } from "../support/server";

const m1 = {
  tag: "0000_one",
  when: 1_700_000_000_000,
  sql: "CREATE TABLE a (x integer);\n--> statement-breakpoint\nCREATE TABLE b (y text);",
};
const m2 = { tag: "0001_two", when: 1_700_000_100_000, sql: "ALTER TABLE a ADD COLUMN z text;" };
const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

const tables = (db: Database) =>
  db
    .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all()
    .map((r) => r.name);
const recorded = (db: Database) =>
  db
    .query<{ hash: string; created_at: number }, []>(
      "SELECT hash, created_at FROM __drizzle_migrations ORDER BY created_at",
    )
    .all();

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("migrate", () => {
  test("applies every statement of pending migrations and records them in __drizzle_migrations", () => {
    const db = new Database(":memory:");
    expect(migrate(db, [m1, m2])).toEqual({ applied: ["0000_one", "0001_two"] });
    expect(tables(db)).toEqual(expect.arrayContaining(["a", "b", "__drizzle_migrations"]));
    expect(db.query("SELECT name FROM pragma_table_info('a')").all()).toEqual([{ name: "x" }, { name: "z" }]);
    expect(recorded(db)).toEqual([
      { hash: sha256(m1.sql), created_at: m1.when },
      { hash: sha256(m2.sql), created_at: m2.when },
    ]);
  });

  test("is idempotent: a second run applies nothing", () => {
    const db = new Database(":memory:");
    migrate(db, [m1, m2]);
    expect(migrate(db, [m1, m2])).toEqual({ applied: [] });
    expect(recorded(db)).toHaveLength(2);
  });

  test("applies only the migrations newer than the last recorded one", () => {
    const db = new Database(":memory:");
    expect(migrate(db, [m1]).applied).toEqual(["0000_one"]);
    expect(migrate(db, [m1, m2]).applied).toEqual(["0001_two"]);
    expect(recorded(db).map((r) => r.created_at)).toEqual([m1.when, m2.when]);
  });

  test("refuses a database written by a newer build, and leaves it untouched", () => {
    const db = new Database(":memory:");
    migrate(db, [m1, m2]);
    expect(() => migrate(db, [m1])).toThrow(SchemaTooNewError);
    expect(() => migrate(db, [m1])).toThrow(/newer version of Switchboard/);
    expect(recorded(db)).toHaveLength(2);
  });

  test("a failing migration applies nothing (one transaction)", () => {
    const db = new Database(":memory:");
    const broken = {
      tag: "0001_broken",
      when: m2.when,
      sql: "CREATE TABLE c (x);\n--> statement-breakpoint\nTHIS IS NOT SQL;",
    };
    expect(() => migrate(db, [m1, broken])).toThrow();
    expect(tables(db)).toEqual(["__drizzle_migrations"]);
    expect(recorded(db)).toHaveLength(0);
  });

  test("the embedded migrations build the schema on a real file with the connection pragmas", () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = openDatabase(join(dir, "switchboard.db"));
    try {
      const { applied } = migrate(db.$client);
      expect(applied).toEqual(embedded.map((m) => m.tag));
      expect(tables(db.$client)).toEqual(
        expect.arrayContaining(["users", "roles", "user_roles", "sessions", "api_tokens", "settings", "organizations"]),
      );
      expect(db.$client.query("SELECT id, name FROM roles ORDER BY id").all()).toEqual([
        { id: 1, name: "Admin" },
        { id: 2, name: "Agent" },
        { id: 3, name: "Customer" },
      ]);
      expect(recorded(db.$client).map((r) => r.created_at)).toEqual(embedded.map((m) => m.when));
    } finally {
      db.$client.close();
    }
  });

  test("agrees with drizzle's own migrator on what has run", async () => {
    const migrationsFolder = join(ROOT, "migrations");
    // Ours first, then drizzle's: drizzle finds nothing to do (it would fail re-creating tables).
    const ours = new Database(":memory:");
    migrate(ours);
    drizzleMigrate(drizzle({ client: ours }), { migrationsFolder });
    expect(recorded(ours)).toHaveLength(embedded.length);
    // Drizzle's first, then ours: same hashes and timestamps, nothing pending.
    const theirs = new Database(":memory:");
    drizzleMigrate(drizzle({ client: theirs }), { migrationsFolder });
    expect(migrate(theirs)).toEqual({ applied: [] });
    expect(recorded(theirs).map((r) => r.hash)).toEqual(embedded.map((m) => sha256(m.sql)));
  });
});
