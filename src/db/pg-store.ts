import type { Database } from "bun:sqlite";
import type { SQL } from "drizzle-orm";
import { drizzle, type PostgresJsDatabase, PostgresJsSession, PostgresJsTransaction } from "drizzle-orm/postgres-js";
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
/** What drizzle's postgres-js database carries: its dialect and session (a transaction's session is built from them). */
type TxArgs = ConstructorParameters<typeof PostgresJsTransaction>;
type DrizzleInternals = {
  dialect: TxArgs[0];
  session: { schema: TxArgs[2]; options: ConstructorParameters<typeof PostgresJsSession>[3] };
};
/** A connection of the pool reserved for one transaction. */
type Reserved = Awaited<ReturnType<PostgresClient["reserve"]>>;
/** What a transaction and its savepoints gather for its commit. */
type TxState = { hooks: (() => void)[]; notices: PendingNotices; savepoints: number };

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
  const internals = db as unknown as DrizzleInternals;
  /** drizzle's transaction object on a reserved connection (as drizzle's own `transaction` builds it). */
  const onConnection = (reserved: Reserved): PgDrizzle => {
    const { dialect, session } = internals;
    const txSession = new PostgresJsSession(
      reserved as unknown as PostgresClient,
      dialect,
      session.schema as never,
      session.options,
    );
    return new PostgresJsTransaction(dialect, txSession as never, session.schema) as unknown as PgDrizzle;
  };

  const handle = (pgTx: PgDrizzle, reserved: Reserved, state: TxState): Tx => {
    const tx = Object.create(pgTx) as Tx;
    attachConnection(tx, connectionFor(pgTx, reserved as unknown as PostgresClient, {}));
    tx.afterCommit = (fn) => void state.hooks.push(fn);
    tx.notifyNodes = (channel, key) => void state.notices.push([channel, key]);
    tx.savepoint = async (work) => {
      const marks = [state.hooks.length, state.notices.length] as const;
      const name = `sp${++state.savepoints}`;
      // Sent ahead of the work's first statement (no round trip of its own); a failure surfaces there.
      const opened = settled(reserved.unsafe(`SAVEPOINT ${name}`));
      try {
        const result = await work(tx);
        await opened.done();
        return result;
      } catch (err) {
        state.hooks.length = marks[0];
        state.notices.length = marks[1];
        // Without the savepoint (its own failure) there is nothing to roll back to; the COMMIT then fails.
        if ((await opened.done(false)) !== null)
          await reserved.unsafe(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
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
    /**
     * BEGIN, the work, the NOTIFY and COMMIT on one reserved connection. BEGIN goes out with the
     * work's first statement and the NOTIFY with COMMIT (postgres.js pipelines what is sent before
     * an answer arrives), so a transaction costs one round trip more than its statements, not three.
     */
    async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
      const state: TxState = { hooks: [], notices: [], savepoints: 0 };
      await slots.take();
      let result: T;
      try {
        const reserved = await client.reserve();
        try {
          const begun = settled(reserved.unsafe("BEGIN"));
          try {
            result = await work(handle(onConnection(reserved), reserved, state));
            await begun.done();
            // In the transaction, so PostgreSQL delivers it at COMMIT, and never after a rollback.
            const notify = wakeups.notifyStatement(state.notices);
            const notified = notify ? settled(reserved.unsafe(notify.text, notify.params)) : null;
            const committed = settled(reserved.unsafe("COMMIT"));
            await notified?.done();
            const done = (await committed.done()) as { command?: string };
            if (done.command !== "COMMIT")
              throw new Error("PostgreSQL rolled the transaction back instead of committing it");
          } catch (err) {
            await begun.done(false);
            await reserved.unsafe("ROLLBACK").catch(() => undefined);
            throw err;
          }
        } finally {
          reserved.release();
        }
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

/**
 * A statement sent now whose answer is looked at later (pipelined): its failure is held, not left
 * unhandled, until `done()` throws it (or, with `rethrow` false, returns null for it).
 */
function settled<T>(query: PromiseLike<T>) {
  const outcome = Promise.resolve(query).then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return {
    async done(rethrow = true): Promise<T | null> {
      const o = await outcome;
      if (o.ok) return o.value;
      if (rethrow) throw o.error;
      return null;
    },
  };
}
