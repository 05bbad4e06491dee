import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as coreSchema from "./schema";
import * as deliverySchema from "../delivery/schema";
import * as webhookSchema from "../webhooks/schema";

const schema = { ...coreSchema, ...deliverySchema, ...webhookSchema };

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

/** Opens the database with the pragmas every connection needs (busy timeout first: the rest may wait on a lock). */
export function openDatabase(path: string): Db {
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec("PRAGMA busy_timeout = 5000");
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = NORMAL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  return drizzle({ client: sqlite, schema }) as Db;
}
