import { connectionOf, type DbOrTx } from "./client";

/**
 * Prepared queries for hot paths, built once per connection. Drizzle spends more time building a
 * query's SQL than SQLite spends running it; a prepared drizzle query (with sql.placeholder) skips
 * the building. Built from whichever handle comes first: they run on the connection, so they join
 * whatever transaction is open on it.
 */
export function preparedFor<T>(build: (db: DbOrTx) => T): (db: DbOrTx) => T {
  const byConnection = new WeakMap<object, T>();
  return (db) => {
    const connection = connectionOf(db);
    let prepared = byConnection.get(connection);
    if (!prepared) byConnection.set(connection, (prepared = build(db)));
    return prepared;
  };
}
