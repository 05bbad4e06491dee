import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { AppError } from "../../src/errors";
import { afterCursor, decodeCursor, diff, encodeCursor, ftsQuery } from "../../src/domain/records";

describe("diff", () => {
  test("lists only the fields whose value changed, as [old, new]", () => {
    expect(diff({ a: 1, b: "x", c: null }, { a: 1, b: "y", c: null })).toEqual({ b: ["x", "y"] });
  });

  test("a field missing before counts as null; a field set to undefined after as null", () => {
    expect(diff({}, { email: "a@x" })).toEqual({ email: [null, "a@x"] });
    expect(diff({ email: "a@x" }, { email: undefined })).toEqual({ email: ["a@x", null] });
    // undefined and null are the same absence: no change.
    expect(diff({ note: null }, { note: undefined })).toEqual({});
    expect(diff({}, { note: null })).toEqual({});
  });

  test("objects and arrays compare by value, not identity", () => {
    expect(diff({ traits: { plan: "pro" }, ids: [1, 2] }, { traits: { plan: "pro" }, ids: [1, 2] })).toEqual({});
    expect(diff({ traits: { plan: "pro" } }, { traits: { plan: "free" } })).toEqual({
      traits: [{ plan: "pro" }, { plan: "free" }],
    });
    expect(diff({ ids: [1, 2] }, { ids: [2, 1] })).toEqual({
      ids: [
        [1, 2],
        [2, 1],
      ],
    });
  });

  test("only the keys of `after` are compared (a partial update leaves the rest alone)", () => {
    expect(diff({ a: 1, b: 2 }, { b: 3 })).toEqual({ b: [2, 3] });
  });

  test('a type change is a change (1 is not "1")', () => {
    expect(diff({ n: 1 }, { n: "1" })).toEqual({ n: [1, "1"] });
    expect(diff({ v: false }, { v: null })).toEqual({ v: [false, null] });
  });
});

describe("cursors", () => {
  test("round-trip the sort values of the last row, as URL-safe text", () => {
    const values = ["Zoë O'Brien / +", 1_700_000_000_000, null, 42];
    const cursor = encodeCursor(values);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, 4)).toEqual(values);
  });

  test("a cursor of the wrong length, not JSON, not an array or not base64 is refused: 400 naming the cursor", () => {
    const bad = [
      encodeCursor([1, 2]),
      Buffer.from("{not json").toString("base64url"),
      Buffer.from('{"a":1}').toString("base64url"),
      "%%%",
      "",
    ];
    for (const cursor of bad) {
      let thrown: unknown;
      try {
        decodeCursor(cursor, 3);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(AppError);
      expect((thrown as AppError).kind).toBe("bad_request");
      expect((thrown as AppError).details).toEqual([{ field: "cursor", message: "is not a cursor from this list" }]);
    }
  });
});

describe("afterCursor on real SQLite", () => {
  const sqlite = new Database(":memory:");
  sqlite.run("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
  // Duplicate names: the id breaks the tie, so no row is skipped or repeated across pages.
  const names = ["b", "a", "c", "a", "b", "a"];
  for (const [i, n] of names.entries()) sqlite.run("INSERT INTO t (id, name) VALUES (?, ?)", [i + 1, n]);
  const db = drizzle({ client: sqlite });
  const keys = [sql`name`, sql`id`];

  const pages = (descending: boolean, size: number) => {
    const seen: number[][] = [];
    let cursor: string | null = null;
    for (;;) {
      const where = cursor ? sql`WHERE ${afterCursor(keys, decodeCursor(cursor, 2), descending)}` : sql``;
      const order = descending ? sql`ORDER BY name DESC, id DESC` : sql`ORDER BY name, id`;
      const rows = db.all<{ id: number; name: string }>(sql`SELECT id, name FROM t ${where} ${order} LIMIT ${size}`);
      if (!rows.length) return seen;
      seen.push(rows.map((r) => r.id));
      const last = rows.at(-1)!;
      cursor = encodeCursor([last.name, last.id]);
    }
  };

  test("ascending pages visit every row once, in (name, id) order", () => {
    expect(pages(false, 2)).toEqual([
      [2, 4],
      [6, 1],
      [5, 3],
    ]);
  });

  test("descending pages visit every row once, in reverse order", () => {
    expect(pages(true, 4)).toEqual([
      [3, 5, 1, 6],
      [4, 2],
    ]);
  });
});

describe("ftsQuery", () => {
  test("every word becomes a required quoted prefix; punctuation cannot inject FTS syntax", () => {
    expect(ftsQuery('Zoë "O\'Brien" OR x*')).toBe('"zoë"* "o"* "brien"* "or"* "x"*');
    expect(ftsQuery("  -- ()  ")).toBeNull();
    expect(ftsQuery("a b c d e f g h i j")?.split(" ")).toHaveLength(8);
  });
});
