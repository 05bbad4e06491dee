/**
 * bench/people: load USERS people (default 1,000,000) through Segment's /v1/batch path, then time
 * the people list and search (REST API and the admin page) at p95, against a bare Bun server
 * running one indexed query on the same database file. Run: npx bun bench/people.ts
 */
import { join } from "node:path";
import { Browser } from "../test/support/server";
import { fmt, percentiles } from "./support/load";
import { startSwitchboard } from "./support/switchboard";

const USERS = Number(process.env.USERS ?? 1_000_000);
const BATCH = 2000;
const PARALLEL_BATCHES = 2;
const SAMPLES = Number(process.env.SAMPLES ?? 200);

const FIRST = [
  "James",
  "Mary",
  "John",
  "Patricia",
  "Robert",
  "Jennifer",
  "Michael",
  "Linda",
  "William",
  "Elizabeth",
  "David",
  "Barbara",
  "Richard",
  "Susan",
  "Joseph",
  "Jessica",
  "Thomas",
  "Sarah",
  "Chris",
  "Karen",
  "Zoë",
  "José",
  "Ana",
  "Mohammed",
  "Wei",
  "Yuki",
  "Olga",
  "Pierre",
  "Aisha",
  "Liam",
];
const LAST = [
  "Smith",
  "Johnson",
  "Williams",
  "Brown",
  "Jones",
  "Garcia",
  "Miller",
  "Davis",
  "Rodriguez",
  "Martinez",
  "Hernandez",
  "Lopez",
  "Gonzalez",
  "Wilson",
  "Anderson",
  "Thomas",
  "Taylor",
  "Moore",
  "Jackson",
  "Martin",
  "Lee",
  "Perez",
  "Thompson",
  "White",
  "Harris",
  "Sanchez",
  "Clark",
  "Ramirez",
  "Lewis",
  "Robinson",
  "Walker",
  "Young",
  "Allen",
  "King",
  "Wright",
  "Scott",
  "Torres",
  "Nguyen",
  "Hill",
  "Flores",
];
const person = (i: number) => {
  const first = FIRST[i % FIRST.length]!;
  const last = `${LAST[Math.floor(i / FIRST.length) % LAST.length]}${i % 7 === 0 ? "-" + (i % 1000) : ""}`;
  return {
    type: "identify",
    userId: `user-${i}`,
    traits: {
      email: `${first.normalize("NFD").replace(/[^a-z]/gi, "")}.${last}.${i}@example-${i % 5000}.com`.toLowerCase(),
      firstName: first,
      lastName: last,
      company: { name: `Company ${i % 2000}` },
      plan: i % 3 ? "free" : "pro",
    },
  };
};

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
  console.log(`${label.padEnd(34)} p50 ${fmt(p.p50).padStart(6)} ms   p95 ${fmt(p.p95).padStart(6)} ms`);
  return p;
}

const sb = await startSwitchboard();
const auth = `Basic ${Buffer.from(`${sb.writeKey}:`).toString("base64")}`;
const loadStarted = performance.now();
let nextBatch = 0;
await Promise.all(
  Array.from({ length: PARALLEL_BATCHES }, async () => {
    for (;;) {
      const start = nextBatch++ * BATCH;
      if (start >= USERS) return;
      const batch = Array.from({ length: Math.min(BATCH, USERS - start) }, (_, k) => person(start + k));
      const res = await fetch(`${sb.url}/v1/batch`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: auth },
        body: JSON.stringify({ batch }),
      });
      if (!res.ok) throw new Error(`batch at ${start}: HTTP ${res.status} ${await res.text()}`);
      if ((start / BATCH) % 40 === 0)
        console.log(`loaded ${start + batch.length} people, ${fmt((performance.now() - loadStarted) / 1000, 0)} s`);
    }
  }),
);
const loadSeconds = (performance.now() - loadStarted) / 1000;
console.log(
  `loaded ${USERS} people in ${fmt(loadSeconds)} s (${fmt(USERS / loadSeconds, 0)} people/s through /v1/batch)`,
);

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

const searches = ["smith", "jo", "garcia mar", "company 42", "example-17", "zoë", "nguyen-"];
const results = {
  list: await time("API list, first page", SAMPLES, () => api("/api/v1/users?limit=50")),
  sorted: await time("API list sorted by name", SAMPLES, () => api("/api/v1/users?limit=50&sort=name")),
  deep: await time("API list, page 2 via cursor, desc", SAMPLES, async () => {
    const first = (await (await api("/api/v1/users?limit=50&order=desc&sort=created_at")).json()) as {
      next_cursor: string;
    };
    return api(`/api/v1/users?limit=50&order=desc&sort=created_at&cursor=${first.next_cursor}`);
  }),
  search: await time("API search (mixed queries)", SAMPLES, (i) =>
    api(`/api/v1/users?limit=50&q=${encodeURIComponent(searches[i % searches.length]!)}`),
  ),
  page: await time("admin people page", SAMPLES, () => browser.get("/people")),
  typeahead: await time("admin search-as-you-type fragment", SAMPLES, (i) =>
    browser.request(`/people?q=${encodeURIComponent(searches[i % searches.length]!)}`, {
      headers: { "HX-Request": "true", "HX-Target": "list-results" },
    }),
  ),
};
await sb.stop();

const worst = Math.max(results.list.p95, results.search.p95, results.page.p95, results.typeahead.p95);
console.log(`RESULT people ${fmt(results.list.p95)} ms ratio=${fmt(results.list.p95 / bare.p95, 2)}`);
console.log(`RESULT people_search_p95 ${fmt(results.search.p95)} ms ratio=${fmt(results.search.p95 / bare.p95, 2)}`);
console.log(`RESULT people_page_p95 ${fmt(results.page.p95)} ms ratio=${fmt(results.page.p95 / bare.p95, 2)}`);
console.log(
  `RESULT people_typeahead_p95 ${fmt(results.typeahead.p95)} ms ratio=${fmt(results.typeahead.p95 / bare.p95, 2)}`,
);
console.log(`RESULT people_load ${fmt(loadSeconds)} s ratio=${fmt(USERS / loadSeconds, 0)}`);
if (worst > 50) console.log(`note: worst p95 ${fmt(worst)} ms is over the 50 ms target`);
