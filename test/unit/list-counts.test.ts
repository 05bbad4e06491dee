import { expect, test } from "bun:test";
import { countOrganizations } from "../../src/domain/organizations";
import { writeRows } from "../support/store";
import { unitDb } from "../support/unit-db";

test("a list's count is exact up to 10,000 and says when it stopped counting", async () => {
  const db = await unitDb();
  const insert = (from: number, to: number, prefix: string) =>
    writeRows(
      db,
      `WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM n WHERE i < ${to})
       INSERT INTO organizations (name, created_at, updated_at) SELECT '${prefix} ' || i, 0, 0 FROM n`,
    );
  await insert(1, 9_999, "Acme");
  expect(await countOrganizations(db, {})).toEqual({ count: 9_999, capped: false });
  await insert(10_000, 10_000, "Acme");
  expect(await countOrganizations(db, {})).toEqual({ count: 10_000, capped: false });
  await insert(1, 5, "Globex");
  expect(await countOrganizations(db, {})).toEqual({ count: 10_000, capped: true });
  // A search counts what it matches.
  expect(await countOrganizations(db, { q: "globex" })).toEqual({ count: 5, capped: false });
});
