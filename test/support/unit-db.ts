import { openDatabase, type Db } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";

/** An in-memory database migrated with the app's own migrations: fast, real SQL, nothing on disk. */
export function memoryDb(): Db {
  const db = openDatabase(":memory:");
  migrate(db.$client);
  return db;
}
