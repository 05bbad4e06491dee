import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as coreSchema from "./schema";
import * as deliverySchema from "../delivery/schema";
import * as enrichmentSchema from "../enrichment/schema";
import * as crmSyncSchema from "../crm-sync/schema";
import * as webhookSchema from "../webhooks/schema";

const schema = { ...coreSchema, ...deliverySchema, ...enrichmentSchema, ...crmSyncSchema, ...webhookSchema };

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

/** Opens the database with the pragmas every connection needs (busy timeout first: the rest may wait on a lock). */
export function openDatabase(path: string): Db {
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec("PRAGMA busy_timeout = 5000");
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = NORMAL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  // 64 MB of page cache (the default is 2 MB): indexes of a large customer base stay in memory.
  sqlite.exec("PRAGMA cache_size = -65536");
  return drizzle({ client: cachingStatements(sqlite), schema }) as Db;
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Drizzle compiles a new SQLite statement for every query, and compiling costs more than running
 * (an INSERT into users compiles its full-text triggers too). Drizzle builds the same SQL text for
 * the same query shape, so statements are kept by text in a bounded LRU and reused.
 */
function cachingStatements(sqlite: Database): Database {
  const cache = new Map<string, ReturnType<Database["prepare"]>>();
  const compile = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((sql: string) => {
    let stmt = cache.get(sql);
    if (stmt) {
      cache.delete(sql);
    } else {
      stmt = compile(sql);
      if (cache.size >= STATEMENT_CACHE_SIZE) {
        const [oldest, evicted] = cache.entries().next().value!;
        cache.delete(oldest);
        evicted.finalize();
      }
    }
    cache.set(sql, stmt);
    return stmt;
  }) as Database["prepare"];
  return sqlite;
}
