/**
 * bench/people: load USERS people (default 1,000,000) through Segment's ingest (the code behind /v1/batch,
 * called in this process on the server's database file: the same rows, events and full-text entries,
 * minutes faster than over HTTP), then time the people list and search (REST API and the admin page's
 * search-as-you-type, sorted by name) per query class at p95, against a bare Bun server running one
 * indexed query on the same database file. Run: npx bun bench/people.ts (USERS=200000 for a quicker run).
 * PEOPLE_CACHE=<dir> keeps the loaded data directory there and later runs (same USERS) start on a copy of it;
 * a newer build migrates its copy at start-up, so old and new code can be timed on the same people.
 */
import { cpSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type Db, openDatabase, type Tx } from "../src/db/client";
import { nameWordsOf } from "../src/db/fts-words";
import { organizations, users } from "../src/db/schema";
import { EventFeed } from "../src/events/feed";
import { ingest, parseMessages } from "../src/ingest/segment";
import { Browser } from "../test/support/server";
import { fmt, percentiles } from "./support/load";
import { person, queryClasses } from "./support/people-data";
import { startSwitchboard } from "./support/switchboard";

const USERS = Number(process.env.USERS ?? 1_000_000);
const BATCH = 5000;
const SAMPLES = Number(process.env.SAMPLES ?? 200);
/** Timed queries per query class (and per path: admin typeahead, API search). */
const CLASS_SAMPLES = Number(process.env.CLASS_SAMPLES ?? 100);

async function time(label: string, n: number, fetchOne: (i: number) => Promise<Response>) {
  for (let i = 0; i < 10; i++) await (await fetchOne(i)).arrayBuffer(); // warm-up
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetchOne(i);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${label}: HTTP ${res.status}`);
    latencies.push(performance.now() - t0);
  }
  const p = percentiles(latencies);
  console.log(`${label.padEnd(36)} p50 ${fmt(p.p50).padStart(6)} ms   p95 ${fmt(p.p95).padStart(6)} ms`);
  return { ...p, latencies };
}

/**
 * PEOPLE_LOAD=direct inserts the same people, organizations and full-text entries straight into the tables
 * (no events, roles or ingest bookkeeping): minutes instead of an hour at 1M on a busy box, for timing search.
 */
const DIRECT = process.env.PEOPLE_LOAD === "direct";
const ORGANIZATIONS = 2000;

async function insertOrganizations(db: Db) {
  const names = Array.from({ length: ORGANIZATIONS }, (_, k) => ({ name: `Company ${k}` }));
  await db.transaction(async (tx) => {
    for (let k = 0; k < names.length; k += 500) await tx.insert(organizations).values(names.slice(k, k + 500));
  });
}

async function insertPeople(tx: Tx, batch: ReturnType<typeof person>[]) {
  const rows = batch.map((p) => {
    const i = Number(p.userId.slice("user-".length));
    return {
      login: p.userId,
      email: p.traits.email,
      firstname: p.traits.firstName,
      lastname: p.traits.lastName,
      // What createUserIn writes too: the words a search sorted by name checks while walking the name index.
      nameWords: nameWordsOf({
        email: p.traits.email,
        firstname: p.traits.firstName,
        lastname: p.traits.lastName,
        login: p.userId,
      }),
      organizationId: 1 + (i % ORGANIZATIONS),
      lastSeenAt: new Date(),
      traits: { plan: p.traits.plan },
    };
  });
  for (let k = 0; k < rows.length; k += 500) await tx.insert(users).values(rows.slice(k, k + 500));
}

const CACHE = process.env.PEOPLE_CACHE ? join(process.env.PEOPLE_CACHE, `users-${USERS}`) : undefined;
const cached = CACHE !== undefined && existsSync(join(CACHE, "switchboard.db"));
const sb = await startSwitchboard([], cached ? CACHE : undefined);
let loadSeconds = 0;
if (cached) console.log(`started on a copy of ${CACHE}`);
else {
  // The write key's owner (the bench admin) is the actor /v1/batch would record.
  const db = openDatabase(join(sb.dataDir, "switchboard.db"));
  const admin = db.$client.query("SELECT id FROM users WHERE email = 'bench@example.com'").get() as { id: number };
  const feed = new EventFeed(db);
  const loadStarted = performance.now();
  if (DIRECT) await insertOrganizations(db);
  for (let start = 0; start < USERS; start += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, USERS - start) }, (_, k) => person(start + k));
    await db.transaction(async (tx) =>
      DIRECT
        ? insertPeople(tx, batch)
        : ingest(tx, feed, parseMessages(batch), { id: admin.id, source: "identify" }, { batch: true }),
    );
    if ((start / BATCH) % 40 === 0)
      console.log(`loaded ${start + batch.length} people, ${fmt((performance.now() - loadStarted) / 1000, 0)} s`);
  }
  db.$client.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  loadSeconds = (performance.now() - loadStarted) / 1000;
  console.log(
    `loaded ${USERS} people in ${fmt(loadSeconds)} s (${fmt(USERS / loadSeconds, 0)} people/s ${DIRECT ? "by insert" : "through ingest"})`,
  );
  if (CACHE) {
    mkdirSync(CACHE, { recursive: true });
    db.$client.exec(`VACUUM INTO '${join(CACHE, "switchboard.db")}'`);
    for (const name of readdirSync(sb.dataDir).filter((n) => !n.startsWith("switchboard.")))
      cpSync(join(sb.dataDir, name), join(CACHE, name), { recursive: true });
  }
  db.$client.close();
}

const api = (path: string) => fetch(`${sb.url}${path}`, { headers: { authorization: `Bearer ${sb.token}` } });
const browser = new Browser(sb.url);
await browser.submit("/login", "/login", { email: "bench@example.com", password: "benchmark-password" });

const bareProc = Bun.spawn(
  [process.execPath, join(import.meta.dir, "support/bare-list-server.ts"), join(sb.dataDir, "switchboard.db")],
  { stdout: "pipe" },
);
const { value } = await bareProc.stdout.getReader().read();
const bareUrl = JSON.parse(new TextDecoder().decode(value).split("\n")[0]!).url as string;
const bare = await time("bare: first 50 by id", SAMPLES, () => fetch(bareUrl));
bareProc.kill();

const QUERY_CLASSES = queryClasses(USERS);

const results = {
  list: await time("API list, first page", SAMPLES, () => api("/api/v1/users?limit=50")),
  sorted: await time("API list sorted by name", SAMPLES, () => api("/api/v1/users?limit=50&sort=name")),
  deep: await time("API list, page 2 via cursor, desc", SAMPLES, async () => {
    const first = (await (await api("/api/v1/users?limit=50&order=desc&sort=created_at")).json()) as {
      next_cursor: string;
    };
    return api(`/api/v1/users?limit=50&order=desc&sort=created_at&cursor=${first.next_cursor}`);
  }),
  page: await time("admin people page", SAMPLES, () => browser.get("/people")),
};
const typeahead: Record<string, number> = {};
const searchLatencies: number[] = [];
for (const [name, queries] of Object.entries(QUERY_CLASSES)) {
  const q = (i: number) => encodeURIComponent(queries[i % queries.length]!);
  typeahead[name] = (
    await time(`admin typeahead: ${name}`, CLASS_SAMPLES, (i) =>
      browser.request(`/people?q=${q(i)}&sort=name`, {
        headers: { "HX-Request": "true", "HX-Target": "list-results" },
      }),
    )
  ).p95;
  const apiSearch = await time(`API search: ${name}`, CLASS_SAMPLES, (i) => api(`/api/v1/users?limit=50&q=${q(i)}`));
  searchLatencies.push(...apiSearch.latencies);
}
await sb.stop();

const search = percentiles(searchLatencies);
const [worstClass, worstTypeahead] = Object.entries(typeahead).sort((x, y) => y[1] - x[1])[0]!;
const worst = Math.max(results.list.p95, search.p95, results.page.p95, worstTypeahead);
console.log(`RESULT people ${fmt(results.list.p95)} ms ratio=${fmt(results.list.p95 / bare.p95, 2)}`);
console.log(`RESULT people_search_p95 ${fmt(search.p95)} ms ratio=${fmt(search.p95 / bare.p95, 2)}`);
console.log(`RESULT people_page_p95 ${fmt(results.page.p95)} ms ratio=${fmt(results.page.p95 / bare.p95, 2)}`);
console.log(`worst admin typeahead class: ${worstClass}`);
console.log(`RESULT people_typeahead_p95 ${fmt(worstTypeahead)} ms ratio=${fmt(worstTypeahead / bare.p95, 2)}`);
if (!cached && !DIRECT) console.log(`RESULT people_load ${fmt(loadSeconds)} s ratio=${fmt(USERS / loadSeconds, 0)}`);
if (worst > 30) console.log(`note: worst p95 ${fmt(worst)} ms is over the 30 ms target`);
