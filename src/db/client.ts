import { Database, type Statement } from "bun:sqlite";
import { chmodSync, closeSync, existsSync, openSync } from "node:fs";
import type { SQL } from "drizzle-orm";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as coreSchema from "./schema";
import * as deliverySchema from "../delivery/schema";
import * as enrichmentSchema from "../enrichment/schema";
import * as crmSyncSchema from "../crm-sync/schema";
import * as webhookSchema from "../webhooks/schema";
import { type Dialect, sqliteDialect } from "./dialect";
import type { Logger } from "../log";
import { walCheckpoints } from "./wal-checkpoints";

export const schema = { ...coreSchema, ...deliverySchema, ...enrichmentSchema, ...crmSyncSchema, ...webhookSchema };

type Drizzle = BunSQLiteDatabase<typeof schema>;

/**
 * What reads need: the store outside a transaction (its read connection) or a transaction. Only
 * query builders, and every query is awaited (no sync executors), so the same code runs on a
 * driver whose queries really are asynchronous.
 */
export type DbOrTx = Pick<Drizzle, "select" | "selectDistinct" | "query" | "$count" | "_">;

/** A transaction: reads see its own writes; writes exist only here. */
export type Tx = DbOrTx &
  Pick<Drizzle, "insert" | "update" | "delete"> & {
    /** Runs work in a savepoint: if it throws, its writes (and after-commit hooks) alone roll back. */
    savepoint<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
    /** Runs fn once the whole transaction has committed (never on rollback); a hook runs once however often added. */
    afterCommit(fn: () => void): void;
    /**
     * Tells the other nodes that `key` changed on `channel`, delivered exactly at commit (never on
     * rollback; a rolled back savepoint drops its keys): on PostgreSQL one NOTIFY per channel,
     * issued in this transaction just before COMMIT, carrying every key; on SQLite nothing (one
     * process; see docs/architecture.md, "Wake-ups across nodes").
     */
    notifyNodes(channel: NodeChannel, key: string): void;
  };

/** What nodes tell each other: new change-feed events, destinations with due jobs, in-memory copies to read again. */
export type NodeChannel = "changes" | "deliveries" | "caches";
/** The keys other nodes notified, or "all" when some may have been missed (a reconnect, an overflow). */
export type NodeNotice = readonly string[] | "all";

/**
 * The store: reads outside a transaction go to a read connection (they never see what an open
 * transaction has written), writes happen only in `transaction`, serialized on the one write
 * connection.
 */
export type Db = DbOrTx & {
  /** Which database this store speaks to, for /healthz and the CLI (never a password). */
  readonly describe: StoreDescription;
  /**
   * BEGIN IMMEDIATE on the write connection once every earlier transaction has ended (FIFO), the
   * work, then COMMIT and the after-commit hooks; ROLLBACK if the work throws. The work must not
   * wait on anything but the store (no network I/O): the write connection is held until it ends.
   */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Calls `listener` with what other nodes notify on `channel` (tx.notifyNodes), never with this
   * store's own notifications (its after-commit hooks serve this process). On SQLite it is never
   * called. Returns an unsubscribe function.
   */
  onNodesNotify(channel: NodeChannel, listener: (notice: NodeNotice) => void): () => void;
  close(): Promise<void>;
  /** The database file ("" in memory; "" on PostgreSQL). */
  readonly path: string;
  /** SQLite's write connection: for src/db (migrations, backups) and tests, never for feature code. */
  readonly $client: Database;
};

export type StoreDescription =
  | { kind: "sqlite"; path: string }
  | { kind: "postgres"; host: string; port: number; database: string; user: string };

/**
 * What every handle of a store (the store, a transaction, a savepoint) knows about its connection:
 * the dialect, the identity prepared queries are kept by, and how raw SQL runs on it.
 */
export type Connection = {
  dialect: Dialect;
  /** The connection's identity (prepared queries are kept per connection). */
  key: object;
  all(text: StatementText, params: StatementParam[]): Promise<unknown[]>;
  get(text: StatementText, params: StatementParam[]): Promise<unknown>;
  run(text: StatementText, params: StatementParam[]): Promise<number>;
  sqlAll(query: SQL): Promise<unknown[]>;
  sqlRun(query: SQL): Promise<number>;
};

const CONNECTION = Symbol("store connection");

/** Attaches a connection to a drizzle handle (handles made from it by Object.create inherit it). */
export function attachConnection(handle: object, connection: Connection): void {
  Object.defineProperty(handle, CONNECTION, { value: connection });
}

function connectionOf(handle: DbOrTx): Connection {
  const connection = (handle as unknown as { [CONNECTION]?: Connection })[CONNECTION];
  if (!connection) throw new Error("not a handle of a store opened by openDatabase or openPostgresStore");
  return connection;
}

/** The dialect of the store a handle belongs to (the few SQL fragments the stores spell differently). */
export function dialectOf(handle: DbOrTx): Dialect {
  return connectionOf(handle).dialect;
}

/** The connection's identity (prepared queries are kept per connection). */
export function connectionKey(handle: DbOrTx): object {
  return connectionOf(handle).key;
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

/**
 * Keeps every statement compiled on a connection until it is finalized; close() finalizes the rest.
 * SQLite closes a file only when its last statement is finalized: a statement left open would
 * leave the close (and its checkpoint) to some later garbage collection.
 */
function trackingStatements(sqlite: Database): () => void {
  const open = new Set<Statement>();
  const compile = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((...args: Parameters<Database["prepare"]>) => {
    const st = compile(...args);
    const finalize = st.finalize.bind(st);
    open.add(st);
    st.finalize = () => {
      open.delete(st);
      finalize();
    };
    return st;
  }) as Database["prepare"];
  return () => {
    for (const st of open) st.finalize();
    sqlite.close();
  };
}

/** A connection with the pragmas every connection needs (busy timeout first: the rest may wait on a lock). */
function connect(path: string, readOnly: boolean): { sqlite: Database; db: Drizzle; close(): void } {
  const sqlite = new Database(path, { create: !readOnly, strict: true });
  const close = trackingStatements(sqlite);
  sqlite.exec("PRAGMA busy_timeout = 5000");
  if (readOnly) sqlite.exec("PRAGMA query_only = ON");
  else {
    sqlite.exec("PRAGMA journal_mode = WAL");
    sqlite.exec("PRAGMA synchronous = NORMAL");
    sqlite.exec("PRAGMA foreign_keys = ON");
  }
  // 64 MB of page cache (the default is 2 MB): indexes of a large customer base stay in memory.
  sqlite.exec("PRAGMA cache_size = -65536");
  // Sorts and materialized subqueries (a fan-out's multi-row insert, ORDER BY without an index) in
  // memory: in a temporary file each cost write system calls, more than the statement itself.
  sqlite.exec("PRAGMA temp_store = MEMORY");
  const compile = sqlite.prepare.bind(sqlite);
  const db = drizzle({ client: cachingStatements(sqlite), schema });
  const statements = new Map<string, Statement>();
  const compiled = (text: StatementText) => {
    let st = statements.get(text.sqlite);
    if (!st) statements.set(text.sqlite, (st = compile(text.sqlite)));
    return st;
  };
  const key = {};
  attachConnection(db, {
    dialect: sqliteDialect,
    key,
    all: async (text, params) => compiled(text).all(...params),
    get: async (text, params) => compiled(text).get(...params) ?? undefined,
    run: async (text, params) => compiled(text).run(...params).changes,
    sqlAll: async (query) => db.all(query),
    sqlRun: async (query) => (db.run(query) as unknown as { changes: number }).changes,
  });
  return { sqlite, db, close };
}

const txState = Symbol("transaction state");
type TxState = { hooks: (() => void)[]; depth: number };

/**
 * Opens the store: the write connection (WAL) and, for a file, a second, query-only connection for
 * reads outside transactions. In memory there is one connection (a second would be another database).
 * A file's WAL checkpoints move to a worker thread once its commits write (wal-checkpoints.ts);
 * `log` hears when they do or fall back; `checkpoints: "main"` keeps SQLite's own (bench/commit-latency's baseline).
 */
export function openDatabase(path: string, log?: Logger, checkpoints: "worker" | "main" = "worker"): Db {
  if (path !== ":memory:") makeDatabaseFilePrivate(path);
  const writer = connect(path, false);
  const reader = path === ":memory:" ? writer : connect(path, true);
  const begin = writer.sqlite.prepare("BEGIN IMMEDIATE");
  const commit = writer.sqlite.prepare("COMMIT");
  const rollback = writer.sqlite.prepare("ROLLBACK");
  let tail: Promise<unknown> = Promise.resolve();
  const holdWrites = (during: () => Promise<void>) => {
    tail = tail.then(during).catch(() => undefined);
  };
  const walWorker =
    path === ":memory:" || checkpoints === "main" ? undefined : walCheckpoints(path, writer.sqlite, holdWrites, log);

  const exec = (text: string) => writer.sqlite.query(text).run();

  function openTx(): Tx {
    const state: TxState = { hooks: [], depth: 0 };
    const tx = Object.create(writer.db) as Tx & { [txState]: TxState };
    tx[txState] = state;
    tx.afterCommit = (fn) => void state.hooks.push(fn);
    tx.notifyNodes = () => {};
    tx.savepoint = async (work) => {
      const name = `sp${++state.depth}`;
      const hooks = state.hooks.length;
      exec(`SAVEPOINT ${name}`);
      try {
        const result = await work(tx);
        exec(`RELEASE ${name}`);
        return result;
      } catch (err) {
        exec(`ROLLBACK TO ${name}`);
        exec(`RELEASE ${name}`);
        state.hooks.length = hooks;
        throw err;
      } finally {
        state.depth--;
      }
    };
    return tx;
  }

  async function run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const tx = openTx();
    begin.run();
    let result: T;
    try {
      result = await work(tx);
      commit.run();
    } catch (err) {
      if (writer.sqlite.inTransaction) rollback.run();
      throw err;
    }
    walWorker?.committed();
    for (const hook of new Set((tx as Tx & { [txState]: TxState })[txState].hooks)) hook();
    return result;
  }

  const store = Object.create(reader.db) as Db & { path: string; $client: Database };
  Object.assign(store, {
    path: path === ":memory:" ? "" : path,
    describe: { kind: "sqlite", path: path === ":memory:" ? "" : path },
    $client: writer.sqlite,
    onNodesNotify: () => () => {},
    transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
      const result = tail.then(() => run(work));
      tail = result.catch(() => undefined);
      return result;
    },
    async close() {
      // The worker's connection first: the write connection, closed last, then removes the WAL.
      await walWorker?.close();
      if (reader !== writer) reader.close();
      writer.close();
    },
  });
  return store;
}

/**
 * A raw SQL query through the store: for SQL only one dialect speaks (full-text search, pragmas,
 * json functions). Keep each in a small named function of its owning module.
 */
export async function sqlAll<T>(db: DbOrTx, query: SQL): Promise<T[]> {
  return (await connectionOf(db).sqlAll(query)) as T[];
}

/** A raw SQL write in a transaction; the number of rows it changed. */
export async function sqlRun(tx: Tx, query: SQL): Promise<number> {
  return connectionOf(tx).sqlRun(query);
}

/** A raw statement's text in each dialect (SQLite's `?`/`?N` parameters, PostgreSQL's `$N`). */
export type StatementText = { sqlite: string; postgres: string };

/** SQLite's positional parameters (`?`, `?N`) as PostgreSQL's (`$N`), for a statement both dialects speak. */
function numbered(text: string): string {
  let next = 0;
  return text.replace(/\?(\d+)?/g, (_, n: string | undefined) => `$${n ?? ++next}`);
}

/**
 * A raw statement compiled once per connection, for hot paths whose SQL is hand-written (the
 * delivery queue's claim): positional parameters, rows as SQLite returns them (on PostgreSQL
 * booleans come back as 1 and 0 too). One text when both dialects speak it (its `?` parameters
 * become `$N` on PostgreSQL), else `{ sqlite, postgres }`, the twin beside the SQLite text.
 */
export function statement<R = unknown>(source: string | StatementText) {
  const text = typeof source === "string" ? { sqlite: source, postgres: numbered(source) } : source;
  return {
    all: async (db: DbOrTx, ...params: StatementParam[]): Promise<R[]> =>
      (await connectionOf(db).all(text, params)) as R[],
    get: async (db: DbOrTx, ...params: StatementParam[]): Promise<R | undefined> =>
      (await connectionOf(db).get(text, params)) as R | undefined,
    run: async (tx: Tx, ...params: StatementParam[]): Promise<number> => connectionOf(tx).run(text, params),
  };
}
export type StatementParam = string | number | bigint | boolean | null | Uint8Array;

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
