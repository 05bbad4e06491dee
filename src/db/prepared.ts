import { connectionKey, type DbOrTx } from "./client";

/**
 * Prepared queries for hot paths, built once per connection (the read connection and the write
 * connection each get their own). Drizzle spends more time building a query's SQL than SQLite
 * spends running it; a prepared drizzle query (with sql.placeholder) skips the building. Run one
 * with `await prepared(handle).execute(params)`: on the write connection it joins the open transaction.
 */
export function preparedFor<T, H extends DbOrTx = DbOrTx>(build: (db: H) => T): (db: H) => T {
  const byConnection = new WeakMap<object, T>();
  return (db) => {
    const connection = connectionKey(db);
    let prepared = byConnection.get(connection);
    if (!prepared) byConnection.set(connection, (prepared = build(db)));
    return prepared;
  };
}
