import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const SRC = join(import.meta.dir, "../../src");
const DB = join(SRC, "db");
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );

/**
 * What only the SQLite driver may touch: its connection, its types, and drizzle's synchronous
 * executors (a query chain ending in .all() .get() .run() .values(), or a prepared query run with
 * them). Everything outside src/db awaits its queries, so a driver with truly asynchronous queries
 * (PostgreSQL) runs the same code.
 */
const FORBIDDEN: [string, RegExp][] = [
  ["the SQLite connection", /\$client\b/],
  ["bun:sqlite", /["']bun:sqlite["']/],
  ["a synchronous executor", /\)\s*\.(?:all|get|run|values)\(\s*\)/],
  ["a synchronous prepared execution", /\.(?:all|get|run)\(\s*\{/],
];

describe("the store layer is the only dialect-specific code", () => {
  test("outside src/db nothing touches the SQLite connection or runs a query synchronously", () => {
    const offenders = files(SRC)
      .filter((f) => !f.startsWith(DB))
      .flatMap((f) => {
        const text = readFileSync(f, "utf8");
        return FORBIDDEN.flatMap(([what, pattern]) => {
          const global = new RegExp(pattern.source, "g");
          return [...text.matchAll(global)].map(
            (m) => `${f.slice(SRC.length + 1)}:${text.slice(0, m.index).split("\n").length}: ${what}`,
          );
        });
      });
    expect(offenders).toEqual([]);
  });

  test("the check finds what it looks for", () => {
    const hits = (code: string) => FORBIDDEN.filter(([, p]) => p.test(code)).map(([what]) => what);
    expect(hits("db.select().from(users)\n  .all();")).toEqual(["a synchronous executor"]);
    expect(hits("lookup(db).get({ id })")).toEqual(["a synchronous prepared execution"]);
    expect(hits("ctx.db.$client.prepare(text)")).toEqual(["the SQLite connection"]);
    expect(hits('import type { Database } from "bun:sqlite";')).toEqual(["bun:sqlite"]);
    expect(hits("const [row] = await db.select().from(users).limit(1);")).toEqual([]);
    expect(hits("for (const v of map.values()) total += v;")).toEqual([]);
  });
});
