import type { Database } from "bun:sqlite";
import type { SQL } from "drizzle-orm";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import {
  attachConnection,
  type Connection,
  type Db,
  type NodeChannel,
  type NodeNotice,
  schema,
  type StoreDescription,
  type Tx,
} from "./client";
import { postgresDialect } from "./dialect";
import { DEFAULT_POOL_SIZE, openPostgres, type PostgresClient } from "./pg-client";
import { migratePostgres } from "./pg-migrate";
import { type PendingNotices, PgWakeups } from "./pg-wakeups";
import { StartupError } from "../startup-error";

type PgDrizzle = PostgresJsDatabase<typeof schema>;
/** What drizzle's postgres-js database and transactions carry: the postgres.js client they run on. */
type WithSession = { session: { client: PostgresClient } };
/** What a transaction and its savepoints gather for its commit. */
type TxState = { hooks: (() => void)[]; notices: PendingNotices };

/**
 * Rows of raw statements as SQLite returns them: booleans as 1 and 0 (the statements' callers, and
 * the SQLite table objects' boolean mode, read numbers).
 */
function sqliteShaped(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  for (const row of rows) for (const key in row) if (typeof row[key] === "boolean") row[key] = row[key] ? 1 : 0;
  return rows;
}

/** Raw SQL on one postgres.js client: the pool, or a transaction's (or savepoint's) connection. */
function connectionFor(db: PgDrizzle, client: PostgresClient, key: object): Connection {
  const all = async (text: { postgres: string }, params: unknown[]) =>
    sqliteShaped(await client.unsafe(text.postgres, params as never[], { prepare: true }));
  return {
    dialect: postgresDialect,
    key,
    all,
    get: async (text, params) => (await all(text, params))[0],
    run: async (text, params) => (await client.unsafe(text.postgres, params as never[], { prepare: true })).count,
    sqlAll: async (query: SQL) => [...(await db.execute(query))],
    sqlRun: async (query: SQL) => (await db.execute(query)).count,
  };
}

/** Where the URL points, without its password (for /healthz, logs and the CLI). */
export function describePostgres(url: string): StoreDescription & { kind: "postgres" } {
  const u = new URL(url);
  return {
    kind: "postgres",
    host: u.hostname,
    port: Number(u.port || 5432),
    database: decodeURIComponent(u.pathname.replace(/^\//, "")) || decodeURIComponent(u.username),
    user: decodeURIComponent(u.username),
  };
}

/**
 * Sorting and the prefix ranges of search (`>= p AND < p || U+10FFFF`) match SQLite's only when text
 * compares byte by byte: the "C" collation. Any other is refused at start-up, naming the fix.
 */
async function assertByteOrder(client: PostgresClient): Promise<void> {
  const [row] = await client<{ collation: string; bytewise: boolean }[]>`
    SELECT datcollate AS collation, ('B' < 'a' AND 'a' < 'b' AND 'z' < 'é') AS bytewise
    FROM pg_database WHERE datname = current_database()`;
  if (row?.bytewise) return;
  throw new StartupError(
    `the PostgreSQL database sorts text by the "${row?.collation}" collation; Switchboard needs "C" (byte order, ` +
      "as SQLite sorts): create the database with CREATE DATABASE … TEMPLATE template0 LOCALE 'C.UTF-8' " +
      "(or LC_COLLATE 'C')",
  );
}

/**
 * The store on PostgreSQL (`--database-url`): the same `Db` as on SQLite, through drizzle's
 * postgres-js driver, cast once to the modules' type. Reads outside a transaction go to the pool;
 * `transaction` is a PostgreSQL transaction on one pooled connection (PostgreSQL isolates them, so
 * nothing is serialized here); savepoints and after-commit hooks behave as on SQLite. Checks the
 * collation and applies the embedded migrations (under an advisory lock) before answering.
 */
export async function openPostgresStore(url: string, options: { max?: number } = {}): Promise<Db> {
  const client = openPostgres(url, options);
  try {
    await assertByteOrder(client);
    await migratePostgres(client);
  } catch (err) {
    await client.end();
    throw err;
  }
  const db = drizzle({ client, schema });
  attachConnection(db, connectionFor(db, client, {}));

  const wakeups = new PgWakeups(url);
  const clientOf = (pgTx: PgDrizzle) => (pgTx as unknown as WithSession).session.client;

  const handle = (pgTx: PgDrizzle, state: TxState): Tx => {
    const tx = Object.create(pgTx) as Tx;
    attachConnection(tx, connectionFor(pgTx, clientOf(pgTx), {}));
    tx.afterCommit = (fn) => void state.hooks.push(fn);
    tx.notifyNodes = (channel, key) => void state.notices.push([channel, key]);
    tx.savepoint = async (work) => {
      const marks = [state.hooks.length, state.notices.length] as const;
      try {
        return await pgTx.transaction(async (sp) => await work(handle(sp as unknown as PgDrizzle, state)));
      } catch (err) {
        state.hooks.length = marks[0];
        state.notices.length = marks[1];
        throw err;
      }
    };
    return tx;
  };

  // A transaction's work may read through the pool while it holds its own connection. Were every
  // connection held by a transaction waiting for such a read, nothing would move: so at most half the
  // pool holds transactions, and the others wait their turn (FIFO) for a slot.
  const slots = new Slots(Math.max(1, Math.floor((options.max ?? DEFAULT_POOL_SIZE) / 2)));
  const store = Object.create(db) as Db;
  Object.assign(store, {
    path: "",
    describe: describePostgres(url),
    async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
      const state: TxState = { hooks: [], notices: [] };
      await slots.take();
      let result: T;
      try {
        result = await db.transaction(async (pgTx) => {
          const value = await work(handle(pgTx as unknown as PgDrizzle, state));
          // In the transaction, so PostgreSQL delivers it at COMMIT, and never after a rollback.
          const notify = wakeups.notifyStatement(state.notices);
          if (notify) await clientOf(pgTx as unknown as PgDrizzle).unsafe(notify.text, notify.params);
          return value;
        });
      } finally {
        slots.give();
      }
      for (const hook of new Set(state.hooks)) hook();
      return result;
    },
    onNodesNotify: (channel: NodeChannel, listener: (notice: NodeNotice) => void) => wakeups.on(channel, listener),
    async close() {
      await wakeups.close();
      await client.end();
    },
  });
  Object.defineProperty(store, "$client", {
    get(): Database {
      throw new Error("the PostgreSQL store has no SQLite connection");
    },
  });
  return store;
}

/** A counting semaphore, first come first served. */
class Slots {
  private readonly waiting: (() => void)[] = [];
  constructor(private free: number) {}

  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
