import type { Database } from "bun:sqlite";
import type { Db } from "./client";

/** The database or any transaction of it: what queries are built on. */
type Handle = Pick<Db, "select" | "insert" | "update" | "delete">;

/** The SQLite connection behind a drizzle database or transaction (both keep it on their session). */
export function clientOf(db: Handle): Database {
  return (db as unknown as { session: { client: Database } }).session.client;
}

/**
 * Prepared queries for hot paths, built once per connection. Drizzle spends more time building a
 * query's SQL than SQLite spends running it; a prepared drizzle query (with sql.placeholder) skips
 * the building. Built from whichever handle comes first: they run on the connection, so they join
 * whatever transaction is open on it.
 */
export function preparedFor<T>(build: (db: Handle) => T): (db: Handle) => T {
  const byConnection = new WeakMap<Database, T>();
  return (db) => {
    const client = clientOf(db);
    let prepared = byConnection.get(client);
    if (!prepared) byConnection.set(client, (prepared = build(db)));
    return prepared;
  };
}
