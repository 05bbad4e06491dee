import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../src/db/client";
import { migrate } from "../../src/db/migrate";
import { migrations } from "../../src/db/migrations.generated";
import { tempDir } from "../support/server";

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Migration 0010 on a database written before it: what an upgraded appliance finds. */
describe("migration 0010_admin_ownership", () => {
  const index = migrations.findIndex((m) => m.tag === "0010_admin_ownership");

  test("closes /setup on a used database, revokes tokens of ex-admins and deleted makers, gives all a role", () => {
    const db = openDatabase(join(dir, "old.db")).$client;
    migrate(db, migrations.slice(0, index));
    db.run(`INSERT INTO users (id, login, email, active, created_at, updated_at) VALUES
      (1, 'gone@x', 'gone@x', 1, 100, 100), (2, 'old@x', 'old@x', 0, 200, 200),
      (3, 'oldest@x', 'oldest@x', 1, 300, 300),
      (4, 'newer@x', 'newer@x', 1, 400, 400), (5, 'nobody@x', 'nobody@x', 1, 500, 500)`);
    db.run("INSERT INTO user_roles (user_id, role_id) VALUES (1, 3), (2, 1), (3, 1), (4, 1)");
    db.run(`INSERT INTO api_tokens (id, name, token_hash, prefix, created_by_id, created_at) VALUES
      (1, 'of a removed admin', 'h1', 'p', 1, 0), (2, 'ownerless', 'h2', 'p', NULL, 0),
      (3, 'of an admin', 'h3', 'p', 4, 0)`);

    migrate(db, migrations);

    expect(db.query("SELECT key, value FROM settings WHERE key = 'admin.first_created_at'").get()).toEqual({
      key: "admin.first_created_at",
      value: "100",
    });
    const tokens = db
      .query<{ id: number; created_by_id: number | null; revoked: number }, []>(
        "SELECT id, created_by_id, revoked_at IS NOT NULL AS revoked FROM api_tokens ORDER BY id",
      )
      .all();
    expect(tokens).toEqual([
      { id: 1, created_by_id: 1, revoked: 1 },
      // Before 0010 a token lost its maker only when that admin was deleted: it dies with them, as tokens do now.
      { id: 2, created_by_id: null, revoked: 1 },
      { id: 3, created_by_id: 4, revoked: 0 },
    ]);
    expect(db.query("SELECT role_id FROM user_roles WHERE user_id = 5").all()).toEqual([{ role_id: 3 }]);
    db.close();
  });

  test("leaves a new, empty database open for /setup", () => {
    const db = openDatabase(join(dir, "new.db")).$client;
    migrate(db, migrations);
    expect(db.query("SELECT count(*) AS n FROM settings").get()).toEqual({ n: 0 });
    db.close();
  });
});
