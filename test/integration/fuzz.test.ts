import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiClient } from "../support/admin-seed";
import { ADMIN, createToken, csrfOf, setupAdmin, startTestServer, type TestServer } from "../support/server";
import { rowsOf } from "../support/store";

/**
 * Throws a few thousand generated bad requests at every route of the route table, as every kind of
 * caller (admin API token, admin session with its CSRF token, write key, nobody) and asserts: no
 * 5xx, every 4xx JSON answer has the error shape, and a 4xx changed no row of the main tables.
 * Deterministic: FUZZ_SEED and FUZZ_REQUESTS reproduce a run; a failure names the request's index.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 6000);

type Identity = "token" | "session" | "writeKey" | "anonymous";
type FuzzRequest = {
  index: number;
  method: string;
  route: string;
  path: string;
  query: string;
  identity: Identity;
  contentType: string | null;
  body: string | Uint8Array<ArrayBuffer> | undefined;
  /** The body holds a value nested thousands deep. */
  deep: boolean;
};

/** mulberry32: small, fast and the same sequence for the same seed everywhere. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

const FIELDS = [
  "email",
  "login",
  "firstname",
  "lastname",
  "name",
  "password",
  "current_password",
  "role_ids",
  "active",
  "organization_id",
  "group_ids",
  "note",
  "phone",
  "web",
  "traits",
  "userId",
  "anonymousId",
  "batch",
  "type",
  "url",
  "events",
  "conditions",
  "webhook_ids",
  "match",
  "secret",
  "headers",
  "method",
  "body_template",
  "user_id",
  "title",
  "customer_id",
  "group_id",
  "state",
  "priority",
  "body",
  "attachments",
  "data_type",
  "data_option",
  "key",
  "display",
  "api_key",
  "base_url",
  "auth",
  "mapping",
  "id",
  "next",
  "_csrf",
  "reassign_to",
  "external_id",
  "template",
  "value",
  "field",
  "operator",
];
const QUERY_KEYS = [
  "limit",
  "cursor",
  "q",
  "sort",
  "order",
  "page",
  "wait",
  "dry_run",
  "next",
  "email",
  "state",
  "after",
  "status",
  "reassign_to",
];
const QUERY_VALUES = [
  "500",
  "-1",
  "0",
  "abc",
  "1e3",
  "",
  "garbage",
  "eyJpZCI6Ii0xIn0",
  "%00",
  "%ZZ",
  "%E3%80%80",
  "..%2F..",
  "%0D%0A",
  "9".repeat(40),
  "x".repeat(3000),
  "1.5",
  "true",
  "[]",
];
const PATH_VALUES = [
  "..",
  "%2e%2e",
  "%00",
  "%ZZ",
  "99999999999999999999",
  "-1",
  "0",
  "1.5",
  "abc",
  "%F0%9F%98%80",
  "9".repeat(400),
  "1e3",
  "%20",
  "null",
  "%0A",
];
const CONTENT_TYPES = [
  "application/json",
  "application/json",
  "APPLICATION/JSON",
  "application/json; charset=utf-8",
  null,
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=fuzz",
  "text/csv",
  "application/xml",
  "Application/X-WWW-Form-Urlencoded",
];
const STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udc00y",
  "../..",
  "<script>alert(1)</script>",
  "{{{ person.email }}}",
  "=1+1",
  "not-an-email",
  "a@b",
  "😀",
  "１２",
  "NaN",
  "2026-13-45T99:00:00Z",
  "\r\n",
  "http://127.0.0.1:1/x",
];

function deepValue(depth: number, array: boolean): string {
  return array ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** A JSON value as text (so numbers too big for a double stay as sent). */
function value(rng: Rng, depth = 0): string {
  switch (rng.int(depth > 1 ? 6 : 9)) {
    case 0:
      return rng.pick(["null", "true", "false"]);
    case 1:
      return rng.pick([
        "0",
        "-1",
        "1e308",
        "-1e308",
        "123456789012345678901234567890",
        "1.5",
        "-0",
        "9007199254740993",
        "1e-400",
      ]);
    case 2:
    case 3:
      return JSON.stringify(rng.pick(STRINGS));
    case 4:
      return JSON.stringify("x".repeat(rng.pick([256, 10_000, 70_000])));
    case 5:
      return rng.pick(["1", '"1"', "2"]);
    case 6:
      return `[${Array.from({ length: rng.int(3) }, () => value(rng, depth + 1)).join(",")}]`;
    case 7:
      return object(rng, depth + 1);
    default:
      return deepValue(rng.pick([100, 5000]), rng.chance(0.5));
  }
}

function object(rng: Rng, depth = 0): string {
  const n = 1 + rng.int(4);
  return `{${Array.from({ length: n }, () => `${JSON.stringify(rng.pick(FIELDS))}:${value(rng, depth)}`).join(",")}}`;
}

const invalidUtf8 = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);

function body(rng: Rng, contentType: string | null): string | Uint8Array<ArrayBuffer> {
  const type = contentType?.toLowerCase() ?? "";
  if (type.startsWith("application/x-www-form-urlencoded") && rng.chance(0.7)) {
    const values = ["", "%ZZ", "%00", "x", "1", "-1", "%E3%80%80", "a%0D%0Ab", "x".repeat(5000), "%F0%9F"];
    return Array.from({ length: 1 + rng.int(4) }, () => `${rng.pick(FIELDS)}=${rng.pick(values)}`).join("&");
  }
  if (type.startsWith("multipart/form-data") && rng.chance(0.7)) {
    const field = rng.pick(FIELDS);
    return rng.chance(0.5)
      ? `--fuzz\r\nContent-Disposition: form-data; name="${field}"\r\n\r\n${rng.pick(STRINGS)}\r\n--fuzz--\r\n`
      : `--fuzz\r\nContent-Disposition: form-data; name="${field}"; filename="a.csv"\r\n` +
          "Content-Type: text/csv\r\n\r\nemail\n\u0000\n";
  }
  if (type.startsWith("text/csv") && rng.chance(0.7))
    return rng.pick([
      "email\n\u0000\n",
      '"unterminated',
      "a,b\n1",
      "",
      "email,firstname\nx@example.com," + "y".repeat(5000),
      "\ufeffemail\r\n=1+1\r\n",
    ]);
  switch (rng.int(10)) {
    case 0:
      return rng.pick(["null", "[]", "[{}]", '"text"', "0", "1e999", "true", "[null]"]);
    case 1:
      return rng.pick([
        "{",
        '{"a":',
        '{"a":1}garbage',
        "nul",
        "{'a':1}",
        "",
        "   ",
        "\u0000",
        '{"a":"\\ud800"}',
        '{"__proto__":{"admin":true}}',
      ]);
    case 2:
      return invalidUtf8;
    case 3:
      return deepValue(5000, rng.chance(0.5));
    case 4:
      return `{"user_id":${deepValue(5000, false)}}`;
    default:
      return object(rng);
  }
}

/** Main tables whose row counts a refused request must leave as they were. */
const TABLES = [
  "users",
  "organizations",
  "groups",
  "user_roles",
  "tickets",
  "articles",
  "attachments",
  "custom_fields",
  "api_tokens",
  "write_keys",
  "sessions",
  "events",
  "webhooks",
  "webhook_triggers",
  "crm_syncs",
  "audiences",
  "delivery_jobs",
  "settings",
];

describe("fuzzing every route", () => {
  let server: TestServer;
  const auth: Record<Identity, Record<string, string>> = { token: {}, session: {}, writeKey: {}, anonymous: {} };
  /** Ids of real records, per path parameter name, so bodies reach the handlers behind a lookup. */
  const realIds: Record<string, string> = {};

  beforeAll(async () => {
    server = await startTestServer({ logLevel: "error" });
    const browser = await setupAdmin(server);
    const token = await createToken(browser);
    const api = apiClient(server.url, token);
    const key = (await api.post("/write_keys", { name: "site" })).key;
    const person = await api.post("/users", { email: "fuzz-person@example.com", firstname: "Fuzz" });
    const org = await api.post("/organizations", { name: "Fuzz Org" });
    const group = await api.post("/groups", { name: "Fuzz Group" });
    const ticket = await api.post("/tickets", { title: "Fuzz ticket", customer_id: person.id });
    const webhook = await api.post("/webhooks", { name: "fuzz hook", url: "http://127.0.0.1:9/hook" });
    Object.assign(realIds, {
      id: String(person.id),
      userId: String(person.id),
      org: String(org.id),
      group: String(group.id),
      ticket: String(ticket.id),
      webhook: String(webhook.id),
    });
    const csrf = csrfOf(await (await browser.get("/")).text());
    auth.token = { authorization: `Bearer ${token}` };
    auth.session = { cookie: `sb_session=${browser.cookies.get("sb_session")}`, "x-csrf-token": csrf };
    auth.writeKey = { authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}` };
  });
  afterAll(async () => {
    await server?.close();
  });

  const counts = async () =>
    (
      await rowsOf<Record<string, number>>(
        server.ctx.db,
        `SELECT ${TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(", ")}`,
      )
    )[0]!;

  /** Destructive routes only ever get bad ids, so the run never deletes the records or credentials it relies on. */
  const destructive = (method: string, route: string) =>
    method === "DELETE" ||
    /\/(delete|revoke|remove|rotate|rotate_secret|logout)$/.test(route) ||
    route.startsWith("/account/");

  function generate(rng: Rng, index: number, routes: { method: string; path: string }[]): FuzzRequest {
    const { method, path: route } = rng.pick(routes);
    const api = route.startsWith("/api/");
    const ingest = route.startsWith("/v1/");
    let identity: Identity = rng.pick(
      api
        ? ["token", "token", "token", "session", "anonymous", "writeKey"]
        : ingest
          ? ["writeKey", "writeKey", "token", "anonymous"]
          : ["session", "session", "session", "anonymous", "token"],
    );
    if (route === "/logout") identity = "anonymous";
    const path = route.replace(/:(\w+)/g, (_, name: string) => {
      if (name === "type") return rng.pick(["identify", "group", "track", "alias", "nope", "%00", ".."]);
      if (name === "email") return rng.pick(["fuzz-person%40example.com", "%00", "..", "a%40b", "x".repeat(300)]);
      const real = realIds[name] ?? realIds.id!;
      return !destructive(method, route) && rng.chance(0.4) ? real : rng.pick(PATH_VALUES);
    });
    const query = rng.chance(0.5)
      ? Array.from({ length: 1 + rng.int(3) }, () => `${rng.pick(QUERY_KEYS)}=${rng.pick(QUERY_VALUES)}`).join("&")
      : "";
    const hasBody = method !== "GET" && method !== "HEAD" && rng.chance(0.95);
    const contentType = hasBody ? rng.pick(CONTENT_TYPES) : null;
    let requestBody = hasBody ? body(rng, contentType) : undefined;
    // Now and then the right password, so sign-in's later steps (next=, session) are reached too.
    if (route === "/login" && method === "POST" && rng.chance(0.2)) {
      const next = rng.pick([
        "/",
        "%2F%2Fevil.example",
        "/%0D%0Ax",
        "/%E3%80%80",
        "%2F%09%2Fhost",
        "javascript:alert(1)",
      ]);
      const [email, password] = [ADMIN.email, ADMIN.password].map(encodeURIComponent);
      requestBody = `email=${email}&password=${password}&next=${next}`;
    }
    const deep =
      typeof requestBody === "string" &&
      requestBody.length > 10_000 &&
      /(\{"a":|\[){1000}/.test(requestBody.slice(0, 20_000));
    return { index, method, route, path, query, identity, contentType, body: requestBody, deep };
  }

  function describeRequest(r: FuzzRequest): string {
    const bodyText =
      r.body === undefined
        ? ""
        : typeof r.body === "string"
          ? r.body
          : `<${r.body.length} bytes: ${Buffer.from(r.body).toString("hex")}>`;
    const shown = bodyText.length > 160 ? `${bodyText.slice(0, 160)}…(${bodyText.length} chars)` : bodyText;
    const target = `${r.method} ${r.path}${r.query ? `?${r.query}` : ""}`;
    const type = r.contentType ?? "(none)";
    return `#${r.index} ${target} as ${r.identity}, Content-Type ${type}: ${JSON.stringify(shown)}`;
  }

  const send = async (method: string, path: string, identity: Identity, contentType: string | null, body?: string) => {
    const res = await fetch(server.url + path, {
      method,
      headers: { ...auth[identity], ...(contentType ? { "content-type": contentType } : {}) },
      body: body === undefined ? undefined : new Blob([body]),
      redirect: "manual",
    });
    const text = await res.text();
    return {
      status: res.status,
      text,
      json: res.headers.get("content-type")?.startsWith("application/json") ? JSON.parse(text) : undefined,
    };
  };

  describe("causes of 5xx and bad answers the fuzzing found", () => {
    test("a path id is digits only: DELETE /api/v1/tokens/1.5 is 404, not a revocation of token 1", async () => {
      for (const id of ["1.5", "1e0", "1abc", " 1"])
        expect((await send("DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`, "token", null)).status).toBe(404);
      expect((await send("GET", "/api/v1/tokens", "token", null)).status).toBe(200);
    });

    test("a body nested thousands deep is refused with 400 before any code recurses into it", async () => {
      const deep = "[".repeat(5000) + "]".repeat(5000);
      const api = await send("POST", "/api/v1/users", "token", "application/json", `{"email":${deep}}`);
      expect(api.status).toBe(400);
      expect(api.json.error).toMatchObject({
        code: "malformed_body",
        message: "the request body nests deeper than 64 levels",
      });
      expect(
        (await send("POST", `/people/${realIds.id}`, "session", "application/json", `{"active":${deep}}`)).status,
      ).toBe(400);
    });

    test("an admin form posted as text, a JSON array or null is 415, not 500", async () => {
      for (const [type, body] of [
        ["text/plain", '{"name":"x"}'],
        ["application/json", "[1]"],
        ["application/json", "null"],
        ["application/json", "1e999"],
      ]) {
        const res = await send("POST", "/triggers", "session", type!, body);
        expect({ type, body, status: res.status }).toEqual({ type, body, status: 415 });
      }
    });

    test("a query a route validates with a throwing schema is 422 naming the parameter", async () => {
      const res = await send("GET", "/api/v1/integrations/clearbit/log?limit=1.5&limit=1.5", "token", null);
      expect(res.status).toBe(422);
      expect(res.json.error.code).toBe("validation_failed");
      expect(res.json.error.details[0].field).toBe("limit");
    });

    test("a refused CSV import answers the error shape around its per-row report", async () => {
      const res = await send("POST", "/api/v1/users/import", "token", "text/csv", "email\nnot-an-email\n");
      expect(res.status).toBe(422);
      expect(res.json.error).toMatchObject({ code: "validation_failed", details: [{ line: 2, field: "email" }] });
      expect(res.json).toMatchObject({ committed: false, errors: [{ line: 2, field: "email" }] });
    });
  });

  test(`${REQUESTS} bad requests (seed ${SEED}): no 5xx, error shape on each JSON 4xx, no write on a 4xx`, async () => {
    const routes = server.routes.filter((r) => r.method !== "ALL" && !r.path.includes("*"));
    expect(routes.length).toBeGreaterThan(100);
    const rng = prng(SEED);
    const failures = new Map<string, string>();
    const fail = (kind: string, r: FuzzRequest, detail: string) => {
      const key = `${kind} ${r.method} ${r.route}`;
      if (!failures.has(key)) failures.set(key, `${kind}: ${describeRequest(r)} → ${detail}`);
    };
    const covered = new Set<string>();
    const statuses: Record<number, number> = {};
    const started = performance.now();
    // The rows after one request are the rows before the next: one count per request.
    let after = await counts();
    for (let i = 0; i < REQUESTS; i++) {
      const r = generate(rng, i, routes);
      covered.add(`${r.method} ${r.route}`);
      const headers: Record<string, string> = { ...auth[r.identity] };
      if (r.contentType) headers["content-type"] = r.contentType;
      const before = after;
      const res = await fetch(`${server.url}${r.path}${r.query ? `?${r.query}` : ""}`, {
        method: r.method,
        headers,
        // A typeless Blob: fetch adds no Content-Type of its own.
        body: r.body === undefined ? undefined : new Blob([r.body]),
        redirect: "manual",
      });
      const text = await res.text();
      after = await counts();
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status >= 500) {
        fail(String(res.status), r, text.slice(0, 300));
        continue;
      }
      if (res.status < 400) continue;
      if (res.headers.get("content-type")?.startsWith("application/json")) {
        let parsed: any;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        const e = parsed?.error;
        if (!e || typeof e.code !== "string" || typeof e.message !== "string" || !("details" in e))
          fail("error shape", r, text.slice(0, 300));
      } else if (/^\/(api|v1)\//.test(new URL(server.url + r.path).pathname)) {
        fail("not JSON", r, `${res.status} ${res.headers.get("content-type")}`);
      }
      const changed = TABLES.filter((t) => before[t] !== after[t]);
      if (changed.length)
        fail(
          "write on a 4xx",
          r,
          `${res.status}; rows changed in ${changed.map((t) => `${t} ${before[t]}→${after[t]}`).join(", ")}`,
        );
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `fuzz: ${REQUESTS} requests over ${covered.size} of ${routes.length} routes in ${seconds.toFixed(1)} s ` +
        `(seed ${SEED}); answers: ${JSON.stringify(statuses)}`,
    );
    expect([...failures.values()]).toEqual([]);
    // Each route is hit about REQUESTS / routes times: with a few thousand requests none is missed.
    expect(covered.size).toBe(routes.length);
  }, 180_000);
});
