/**
 * bench/backfill: a scheduled-style backfill of USERS people against the fake Clearbit over
 * loopback, with the 600/min limit scaled up for the run (LIMIT per minute). Checks that calls never
 * exceed the limit in any 60 s window (arrival times at the provider), that the sustained rate is
 * close to the limit, that cached people cost no second call, and that the people list stays
 * responsive meanwhile. Baselines from the same run: the limit itself (a bare client at the limit
 * can do no better) and the people list's p95 on the idle server. Run: npx bun bench/backfill.ts
 */
import { Browser } from "../test/support/server";
import { startFakeClearbit } from "../test/support/fake-clearbit";
import { fmt, percentiles } from "./support/load";
import { startSwitchboard } from "./support/switchboard";

const USERS = Number(process.env.USERS ?? 20_000);
const LIMIT = Number(process.env.LIMIT ?? 9_000); // per minute
const WINDOW_MS = 60_000;

const fake = startFakeClearbit();
const sb = await startSwitchboard();
const api = (method: string, path: string, body?: unknown) =>
  fetch(`${sb.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${sb.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (r) => {
    if (!r.ok) throw new Error(`${method} ${path} → ${r.status}: ${await r.text()}`);
    return r.json() as Promise<any>;
  });

// Seed: USERS people seen within the last week, through /v1/batch (enrichment still off).
const auth = `Basic ${Buffer.from(`${sb.writeKey}:`).toString("base64")}`;
const seedStart = performance.now();
for (let i = 0; i < USERS; i += 500) {
  const batch = Array.from({ length: Math.min(500, USERS - i) }, (_, j) => ({
    type: "identify",
    userId: `u${i + j}`,
    traits: { email: `person.${i + j}@company${(i + j) % 997}.example` },
    timestamp: new Date(Date.now() - ((i + j) % 6) * 86_400_000).toISOString(),
  }));
  const res = await fetch(`${sb.url}/v1/batch`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: auth },
    body: JSON.stringify({ batch }),
  });
  if (!res.ok) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
}
console.log(`seeded ${USERS} people in ${fmt((performance.now() - seedStart) / 1000)} s`);

// The admin's people list, as a signed-in browser loads it.
const browser = new Browser(sb.url);
await browser.submit("/login", "/login", { email: "bench@example.com", password: "benchmark-password" });
async function peopleListLatencies(until: () => boolean, minSamples = 0): Promise<number[]> {
  const out: number[] = [];
  while (!until() || out.length < minSamples) {
    const t0 = performance.now();
    const res = await browser.get("/people?sort=name");
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`people list answered ${res.status}`);
    out.push(performance.now() - t0);
    await Bun.sleep(100);
  }
  return out;
}
const idle = percentiles(await peopleListLatencies(() => true, 30));

await api("PUT", "/integrations/clearbit", {
  enabled: true,
  api_key: fake.key,
  person_url: fake.url,
  company_url: fake.url,
  stream_url: fake.streamUrl,
  rate_limit_per_minute: LIMIT,
  use_callbacks: false,
});
const runStart = Date.now();
await api("POST", "/integrations/clearbit/backfill");
let finished = false;
const during = peopleListLatencies(() => finished);
let progress: any;
for (;;) {
  progress = await api("GET", "/integrations/clearbit/backfill");
  if (progress.finished && progress.total >= USERS) break;
  if (Date.now() - runStart > 170_000) break;
  await Bun.sleep(500);
}
finished = true;
const busy = percentiles(await during);
const seconds = (Date.now() - runStart) / 1000;

// Cached people: a second backfill and an "enrich now" cost no call.
const callsBefore = fake.calls.length;
await api("POST", "/integrations/clearbit/backfill");
await Bun.sleep(1000);
const someone = (await api("GET", "/users?limit=1&sort=id&order=desc")).data[0];
await api("POST", `/users/${someone.id}/enrich`);
await Bun.sleep(500);
const repeatCalls = fake.calls.length - callsBefore;
const perEmail = new Map<string, number>();
for (const c of fake.calls) if (c.email) perEmail.set(c.email, (perEmail.get(c.email) ?? 0) + 1);
const duplicates = [...perEmail.values()].filter((n) => n > 1).length;

// The limit in any window, by arrival at the provider; the sustained rate over the whole run.
const times = fake.calls
  .slice(0, callsBefore)
  .map((c) => c.at)
  .sort((a, b) => a - b);
let maxInWindow = 0;
for (let lo = 0, hi = 0; hi < times.length; hi++) {
  while (times[hi]! - times[lo]! >= WINDOW_MS) lo++;
  maxInWindow = Math.max(maxInWindow, hi - lo + 1);
}
const span = times.length > 1 ? (times.at(-1)! - times[0]!) / 60_000 : 1;
const sustained = (times.length - 1) / span;

await sb.stop();
await fake.stop();

console.log(
  `${USERS} people, limit ${LIMIT}/min: ${progress.done} looked up (${progress.failed} failed) in ${fmt(seconds)} s`,
);
console.log(
  `provider calls ${times.length}; most in any 60 s window ${maxInWindow}; sustained ${fmt(sustained, 0)}/min`,
);
console.log(`repeat calls for cached people: ${repeatCalls}; emails asked more than once: ${duplicates}`);
console.log(`people list p95: idle ${fmt(idle.p95)} ms, during backfill ${fmt(busy.p95)} ms (p50 ${fmt(busy.p50)} ms)`);
console.log(`RESULT backfill ${fmt(sustained, 0)} req/min ratio=${fmt(sustained / LIMIT, 3)}`);
console.log(`RESULT backfill_max_window ${maxInWindow} req/60s ratio=${fmt(maxInWindow / LIMIT, 3)}`);
console.log(`RESULT backfill_repeat_calls ${repeatCalls + duplicates} calls ratio=0`);
console.log(`RESULT backfill_people_list_p95 ${fmt(busy.p95)} ms ratio=${fmt(busy.p95 / Math.max(idle.p95, 0.1), 2)}`);
const ok =
  maxInWindow <= LIMIT &&
  sustained >= 0.95 * LIMIT &&
  repeatCalls + duplicates === 0 &&
  busy.p95 < 100 &&
  progress.done >= USERS;
if (!ok) process.exitCode = 1;
