/**
 * npm run screenshots [-- <dir>]: a PNG of every admin page at 1366×900 and 390×844, so a reviewer can
 * look at the whole UI in a minute. Starts a real server on a fresh data directory, seeds it through the
 * API as a program would (people with long text, organizations, tickets, a group, webhooks with failing
 * and succeeding deliveries, a CRM sync), signs in with Chromium and crawls every same-origin link from
 * the dashboard, one page per route shape (/people/1 and /people/2 are one shape).
 * Not part of npm test; the folder defaults to ./screenshots.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { apiClient } from "../test/support/admin-seed";
import { launchChromium, signInPage } from "../test/support/chromium";
import { ADMIN, createToken, setupAdmin, startTestServer } from "../test/support/server";

const OUT = resolve(process.argv[2] ?? "screenshots");
const SIZES = [
  { name: "desktop", width: 1366, height: 900 },
  { name: "phone", width: 390, height: 844 },
];
const MAX_PAGES = 120;
/** Links that act rather than show (sign-out), stream files, or are not pages (health, metrics). */
const SKIP = /^\/(logout|login|healthz|metrics)|\/export|\.csv$|\/assets\//;

const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (req) => new Response("ok", { status: new URL(req.url).pathname === "/fail" ? 500 : 200 }),
});
const server = await startTestServer();
const api = apiClient(server.url, await createToken(await setupAdmin(server), "screenshots"));

const acme = await api.post("/organizations", { name: "Acme Corporation", domain: "acme.example" });
await api.post("/organizations", { name: `A${"very".repeat(60)}longname Ltd` });
const group = await api.post("/groups", { name: "Support" });
const people = [];
for (const [first, last] of [
  ["Grace", "Hopper"],
  ["Alan", "Turing"],
  ["Ada", "Lovelace"],
] as const) {
  people.push(
    await api.post("/users", {
      firstname: first,
      lastname: last,
      email: `${first.toLowerCase()}@acme.example`,
      organization_id: acme.id,
      note: "A note that goes on. ".repeat(250),
    }),
  );
}
await api.post("/tickets", {
  title: `Printer on fire ${"x".repeat(230)}`,
  customer_id: people[0].id,
  group_id: group.id,
  article: { body: "It is really on fire." },
});
const ok = await api.post("/webhooks", { name: "LAN service", url: `http://127.0.0.1:${receiver.port}/ok` });
const failing = await api.post("/webhooks", { name: "Failing service", url: `http://127.0.0.1:${receiver.port}/fail` });
await api.post("/triggers", {
  name: "Every person change",
  events: ["user.created", "user.updated"],
  webhook_ids: [ok.id, failing.id],
});
await api.patch(`/users/${people[1].id}`, { lastname: "Turing OBE" });
await Bun.sleep(1_500);

const chromium = await launchChromium();
mkdirSync(OUT, { recursive: true });
let written = 0;
for (const size of SIZES) {
  const page = await chromium.newPage({ viewport: { width: size.width, height: size.height } });
  await signInPage(page, server.url, ADMIN);
  const seenShapes = new Set<string>();
  const queue = ["/"];
  while (queue.length && seenShapes.size < MAX_PAGES) {
    const path = queue.shift()!;
    const shape = path.replace(/\/\d+(?=\/|$)/g, "/:id").replace(/\?.*$/, "");
    if (seenShapes.has(shape)) continue;
    seenShapes.add(shape);
    const res = await page.goto(server.url + path);
    if (!res?.ok()) continue;
    const name = shape === "/" ? "dashboard" : shape.slice(1).replace(/[/:]+/g, "_");
    try {
      await page.screenshot({ path: join(OUT, `${name}.${size.name}.png`), fullPage: true, timeout: 60_000 });
      written++;
    } catch (err) {
      console.error(`${path} at ${size.name}: ${(err as Error).message.split("\n")[0]}`);
    }
    const links = await page.$$eval("a[href^='/']", (as) => as.map((a) => a.getAttribute("href")!));
    for (const link of links) if (!SKIP.test(link)) queue.push(link.replace(/#.*$/, ""));
  }
  await page.close();
}
await chromium.close();
await server.close();
receiver.stop(true);
console.log(`${written} screenshots in ${OUT}`);
