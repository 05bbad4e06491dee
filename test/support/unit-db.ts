import { PersonFields } from "../../src/domain/person-fields";
import type { EventFeed } from "../../src/events/feed";
import { openDatabase, type Db } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";

/** An in-memory database migrated with the app's own migrations: fast, real SQL, nothing on disk. */
export function memoryDb(): Db {
  const db = openDatabase(":memory:");
  migrate(db.$client);
  return db;
}

/** What the user functions need: a database, its feed and the (here empty) person fields. */
export const people = (db: Db, events: EventFeed, personFields = new PersonFields()) => ({ db, events, personFields });
