/**
 * bench/migrate-to-postgres: the copy rate of `switchboard migrate-to-postgres`. Builds an appliance
 * of USERS people (default 100,000; with traits, as Segment ingest leaves them) and 2,000
 * organizations in a temporary data directory, then copies it with the command's own function into
 * a throwaway PostgreSQL server. Run: npx bun bench/migrate-to-postgres.ts
 */
import { rmSync } from "node:fs";
import { organizations, users } from "../src/db/schema";
import { migrateToPostgres } from "../src/db/migrate-to-postgres";
import { dataPaths, openDataDir } from "../src/server";
import { startPostgres } from "../test/support/postgres";
import { tempDir } from "../test/support/server";
import { fmt } from "./support/load";
import { person } from "./support/people-data";

const USERS = Number(process.env.USERS ?? 100_000);
const ORGANIZATIONS = 2000;
const BATCH = 5000;

const dataDir = tempDir("switchboard-bench-migrate-");
const db = openDataDir(dataDir);
const loadStarted = performance.now();
await db.transaction(async (tx) => {
  for (let i = 0; i < ORGANIZATIONS; i += 500)
    await tx
      .insert(organizations)
      .values(Array.from({ length: 500 }, (_, k) => ({ name: `Company ${i + k}`, domain: `c${i + k}.example` })));
});
for (let start = 0; start < USERS; start += BATCH) {
  await db.transaction(async (tx) => {
    const rows = Array.from({ length: Math.min(BATCH, USERS - start) }, (_, k) => {
      const i = start + k;
      const { traits } = person(i);
      return {
        login: `user-${i}`,
        email: traits.email,
        firstname: traits.firstName,
        lastname: traits.lastName,
        organizationId: (i % ORGANIZATIONS) + 1,
        lastSeenAt: new Date(1_765_000_000_000 + i),
        traits: { plan: i % 3 ? "pro" : "free", seats: i % 50 },
        provenance: { email: { source: "segment", at: 1_765_000_000_000 } },
      };
    });
    for (let i = 0; i < rows.length; i += 1000) await tx.insert(users).values(rows.slice(i, i + 1000));
  });
}
await db.close();
console.log(`built an appliance of ${USERS} people in ${fmt((performance.now() - loadStarted) / 1000)} s`);

const server = await startPostgres();
try {
  const report = await migrateToPostgres({
    sqlitePath: dataPaths(dataDir).db,
    databaseUrl: await server.createDatabase(),
    say: (line) => console.log(line),
  });
  const people = report.tables.find((t) => t.name === "users")?.rows ?? 0;
  console.log(`copied ${report.rows} rows (${people} people) in ${fmt(report.seconds)} s`);
  console.log(`RESULT migrate_to_postgres ${fmt(report.rows / report.seconds, 0)} rows/s ratio=1`);
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
