/**
 * The PostgreSQL schema (src/db/pg-schema.ts) mirrors the SQLite tables that queries are built from:
 * same tables, columns, types (as mapped), nullability, kind of default, keys, foreign keys and
 * indexes. Any change to one without the other fails here.
 */
import { describe, expect, test } from "bun:test";
import { type Column, is, SQL } from "drizzle-orm";
import { bigint, getTableConfig as pgConfig, PgTable, pgTable, text } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import * as crmSync from "../../src/crm-sync/schema";
import * as core from "../../src/db/schema";
import * as pg from "../../src/db/pg-schema";
import * as delivery from "../../src/delivery/schema";
import * as enrichment from "../../src/enrichment/schema";
import * as webhooks from "../../src/webhooks/schema";

/** Search as you type: SQLite keeps the words in its FTS5 tables (migrations), PostgreSQL in these. */
const PG_ONLY_COLUMNS = new Set(["users.search_words", "organizations.search_words"]);
const PG_ONLY_INDEXES = new Set(["users_search_idx", "organizations_search_idx"]);

const sqliteTables = [core, delivery, enrichment, crmSync, webhooks]
  .flatMap((m) => Object.values(m))
  .filter((t): t is SQLiteTable => is(t, SQLiteTable));
const pgTables = Object.values(pg).filter((t) => is(t, PgTable)) as PgTable[];

const defaultKind = (c: Column) => (c.default === undefined ? "none" : is(c.default, SQL) ? "sql" : "value");

function sqliteShape(table: SQLiteTable) {
  const config = sqliteConfig(table);
  return {
    name: config.name,
    columns: Object.fromEntries(
      config.columns.map((c) => {
        const type =
          c.columnType === "SQLiteBoolean" ? "boolean" : c.getSQLType() === "blob" ? "bytea" : c.getSQLType();
        const value = is(c.default, SQL) || c.default === undefined ? null : c.default;
        return [
          c.name,
          {
            type: type === "integer" ? "bigint" : type,
            notNull: c.notNull,
            primary: c.primary,
            unique: c.isUnique,
            generated: c.primary && (c as { autoIncrement?: boolean }).autoIncrement === true,
            default: defaultKind(c),
            // JSON columns hold their default as a value, PostgreSQL's text column as its text.
            value: c.columnType === "SQLiteTextJson" && value !== null ? JSON.stringify(value) : value,
          },
        ];
      }),
    ),
    primaryKey: config.primaryKeys.map((k) => k.columns.map((c) => c.name)),
    foreignKeys: config.foreignKeys.map((f) => foreignKey(f.reference(), f.onDelete)).sort(),
    indexes: Object.fromEntries(config.indexes.map((i) => [i.config.name, i.config.unique])),
  };
}

function pgShape(table: PgTable) {
  const config = pgConfig(table);
  return {
    name: config.name,
    columns: Object.fromEntries(
      config.columns
        .filter((c) => !PG_ONLY_COLUMNS.has(`${config.name}.${c.name}`))
        .map((c) => [
          c.name,
          {
            type: c.getSQLType(),
            notNull: c.notNull,
            primary: c.primary,
            unique: c.isUnique,
            generated: c.primary && c.generatedIdentity !== undefined,
            default: defaultKind(c),
            value: is(c.default, SQL) || c.default === undefined ? null : c.default,
          },
        ]),
    ),
    primaryKey: config.primaryKeys.map((k) => k.columns.map((c) => c.name)),
    foreignKeys: config.foreignKeys.map((f) => foreignKey(f.reference(), f.onDelete)).sort(),
    indexes: Object.fromEntries(
      config.indexes
        .filter((i) => !PG_ONLY_INDEXES.has(i.config.name ?? ""))
        .map((i) => [i.config.name, i.config.unique]),
    ),
  };
}

type Reference = { columns: Column[]; foreignColumns: Column[] };
function foreignKey(r: Reference, onDelete: string | undefined) {
  const table = (c: Column) => (c.table as unknown as Record<symbol, string>)[Symbol.for("drizzle:Name")];
  const names = (cs: Column[]) => cs.map((c) => c.name).join(",");
  return `${names(r.columns)} -> ${table(r.foreignColumns[0] as Column)}(${names(r.foreignColumns)}) on delete ${onDelete ?? "no action"}`;
}

const byName = <T extends { name: string }>(shapes: T[]) =>
  Object.fromEntries(shapes.map((s) => [s.name, s])) as Record<string, T>;

describe("the PostgreSQL schema mirrors the SQLite tables", () => {
  test("the same tables", () => {
    expect(pgTables.map((t) => pgConfig(t).name).sort()).toEqual(sqliteTables.map((t) => sqliteConfig(t).name).sort());
  });

  const pgByName = byName(pgTables.map(pgShape));
  for (const shape of sqliteTables.map(sqliteShape)) {
    test(`${shape.name}: columns, keys, foreign keys and indexes`, () => {
      expect(pgByName[shape.name]).toEqual(shape);
    });
  }

  test("the comparison sees a drift (an extra column, a changed type)", () => {
    const sqliteSettings = sqliteShape(core.settings);
    const drifted = pgTable("settings", {
      key: text("key").primaryKey(),
      value: text("value").notNull(),
      updatedAt: bigint("updated_at", { mode: "number" }).notNull().default(0),
      extra: text("extra"),
    });
    expect(pgShape(pg.settings)).toEqual(sqliteSettings);
    expect(pgShape(drifted)).not.toEqual(sqliteSettings);
  });
});
