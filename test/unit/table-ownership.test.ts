import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const SRC = join(import.meta.dir, "../../src");
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );

/** SQL naming a delivery table, or its drizzle table objects: only the delivery engine may query them. */
const DELIVERY_SQL =
  /\b(?:FROM|JOIN|INTO|UPDATE)\s+(?:delivery_jobs|delivery_destinations|delivery_attempt_counts|http_log)\b/;
const DELIVERY_OBJECTS = /\b(?:deliveryJobs|deliveryDestinations|deliveryAttemptCounts|httpLog|ACTIVE_JOB)\b/;

describe("each table has one owner", () => {
  test("no module outside src/delivery queries the delivery tables", () => {
    const offenders = files(SRC)
      // The PostgreSQL DDL mirror declares every table and queries none.
      .filter((f) => !f.startsWith(join(SRC, "delivery")) && f !== join(SRC, "db/pg-schema.ts"))
      .flatMap((f) =>
        readFileSync(f, "utf8")
          .split("\n")
          .map((line, i) => ({ at: `${f.slice(SRC.length + 1)}:${i + 1}`, line })),
      )
      .filter(({ line }) => DELIVERY_SQL.test(line) || DELIVERY_OBJECTS.test(line))
      .map(({ at }) => at);
    expect(offenders).toEqual([]);
  });
});
