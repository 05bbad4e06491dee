/**
 * migrate-to-postgres copies what its plan lists: every table a migrated database has, in an order
 * that satisfies every foreign key. A table added without reaching the plan fails here.
 */
import { describe, expect, test } from "bun:test";
import { getTableConfig as pgConfig, PgTable } from "drizzle-orm/pg-core";
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { is } from "drizzle-orm";
import { copyPlan, SQLITE_TABLES, tableName } from "../../src/db/migrate-to-postgres";
import * as pg from "../../src/db/pg-schema";
import { describeOnSqlite } from "../support/store";
import { memoryDb } from "../support/unit-db";

/** SQLite's own tables, the migrations' bookkeeping and the FTS5 search index (PostgreSQL computes its own). */
const NOT_COPIED = /^(sqlite_|__drizzle_migrations$|\w+_fts(_\w+)?$)/;

describe("the copy plan", () => {
  const plan = copyPlan().map(tableName);

  describeOnSqlite(
    "the tables of a migrated SQLite database (sqlite_master): the copy's source",
    "the SQLite source",
    () => {
      test("holds every table of a migrated SQLite database, once", async () => {
        const db = memoryDb();
        const tables = db.$client
          .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'")
          .all()
          .map((r) => r.name)
          .filter((name) => !NOT_COPIED.test(name));
        await db.close();
        expect([...plan].sort()).toEqual(tables.sort());
        expect(new Set(plan).size).toBe(plan.length);
      });
    },
  );

  test("holds every table of the PostgreSQL schema", () => {
    const pgTables = Object.values(pg).filter((t) => is(t, PgTable)) as PgTable[];
    expect([...plan].sort()).toEqual(pgTables.map((t) => pgConfig(t).name).sort());
  });

  test("copies a referenced table before every table referring to it", () => {
    for (const table of copyPlan()) {
      for (const fk of getTableConfig(table).foreignKeys) {
        const referenced = tableName(fk.reference().foreignTable as SQLiteTable);
        expect(plan.indexOf(referenced)).toBeLessThanOrEqual(plan.indexOf(tableName(table)));
      }
    }
  });

  test("refuses to plan without a table others refer to", () => {
    const withoutUsers = SQLITE_TABLES.filter((t) => tableName(t) !== "users");
    expect(() => copyPlan(withoutUsers)).toThrow("no foreign-key order");
  });
});
