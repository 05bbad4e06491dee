import { expect, test } from "bun:test";
import { createUser, deleteUser, getUserRow, parseUserInput, writeUsersIn } from "../../src/domain/users";
import { EventFeed, type Actor } from "../../src/events/feed";
import { describeOnPostgres, rowsOf } from "../support/store";
import { people, unitDb } from "../support/unit-db";

const actor: Actor = { id: null, source: "api" };

describeOnPostgres(
  "on SQLite an import reads and writes its people under one write lock",
  "a bulk write where transactions interleave",
  async () => {
    const db = await unitDb();
    const feed = new EventFeed(db);

    test("a person deleted after the import read them is not brought back: the batch fails instead", async () => {
      const created = await createUser(people(db, feed), { email: "gone@example.com", firstname: "Gone" }, actor);
      const before = await getUserRow(db, created.id);
      await deleteUser(db, feed, created.id, actor);
      const { data, fields } = await parseUserInput(db, { email: "gone@example.com", firstname: "Back" });
      await expect(db.transaction((tx) => writeUsersIn(tx, feed, [{ before, data }], fields, actor))).rejects.toThrow(
        "user not found",
      );
      expect(await rowsOf(db, "SELECT id FROM users WHERE id = ?", created.id)).toEqual([]);
    });
  },
);
