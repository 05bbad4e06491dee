import { afterEach } from "bun:test";
import { PersonFields } from "../../src/domain/person-fields";
import type { EventFeed } from "../../src/events/feed";
import { openDatabase, type Db } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";
import { openPostgresStore } from "../../src/db/pg-store";
import { postgresDatabase } from "./postgres";
import { TEST_STORE } from "./store";

/** An in-memory SQLite database migrated with the app's own migrations: fast, real SQL, nothing on disk. */
export function memoryDb(): Db {
  const db = openDatabase(":memory:");
  migrate(db.$client);
  return db;
}

/**
 * A migrated database for a unit test on the suite's store: SQLite in memory, or (TEST_STORE=postgres)
 * a fresh PostgreSQL database.
 */
export async function unitDb(): Promise<Db> {
  return TEST_STORE === "postgres" ? await openPostgresStore(await postgresDatabase(), { max: 4 }) : memoryDb();
}

/** unitDb() for a file's tests: each database is closed after the test that opened it. */
export function unitDbPerTest(): () => Promise<Db> {
  const opened: Db[] = [];
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
  });
  return async () => {
    const db = await unitDb();
    opened.push(db);
    return db;
  };
}

/** What the user functions need: a database, its feed and the (here empty) person fields. */
export const people = (db: Db, events: EventFeed, personFields = new PersonFields()) => ({ db, events, personFields });
