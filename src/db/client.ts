import { Database } from "bun:sqlite";
import { chmodSync, closeSync, existsSync, openSync } from "node:fs";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as coreSchema from "./schema";
import * as deliverySchema from "../delivery/schema";
import * as enrichmentSchema from "../enrichment/schema";
import * as crmSyncSchema from "../crm-sync/schema";
import * as webhookSchema from "../webhooks/schema";

const schema = { ...coreSchema, ...deliverySchema, ...enrichmentSchema, ...crmSyncSchema, ...webhookSchema };

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };
/** A transaction of the application database (what db.transaction and tx.transaction hand their callback). */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Either: statements on the database itself autocommit, those on a transaction join it. */
export type DbOrTx = Db | Tx;

/**
 * The connection behind each database. Drizzle hands a database's relational schema (its public `_`)
 * to every transaction of it, so that object identifies the connection a transaction runs on.
 */
const connections = new WeakMap<object, Database>();

/** The SQLite connection a database or transaction runs on (prepared statements are per connection). */
export function connectionOf(handle: DbOrTx): Database {
  const connection = connections.get(handle._.tableNamesMap);
  if (!connection) throw new Error("not a handle of a database opened by openDatabase");
  return connection;
}

/** Owner-only: the database holds every person's data, whatever the data directory's own mode. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates the database file 0600 before SQLite does (and tightens one an older build left 0644):
 * SQLite gives the -wal and -shm files it creates later the database file's mode.
 */
function makeDatabaseFilePrivate(path: string): void {
  closeSync(openSync(path, "a", PRIVATE_FILE_MODE));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, PRIVATE_FILE_MODE);
}

/** Opens the database with the pragmas every connection needs (busy timeout first: the rest may wait on a lock). */
export function openDatabase(path: string): Db {
  if (path !== ":memory:") makeDatabaseFilePrivate(path);
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec("PRAGMA busy_timeout = 5000");
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = NORMAL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  // 64 MB of page cache (the default is 2 MB): indexes of a large customer base stay in memory.
  sqlite.exec("PRAGMA cache_size = -65536");
  const db = drizzle({ client: cachingStatements(sqlite), schema }) as Db;
  connections.set(db._.tableNamesMap, sqlite);
  return db;
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
