import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { MAX_ATTEMPTS_PER_ACCOUNT, MAX_ATTEMPTS_PER_ADDRESS } from "../../src/http/login-throttle";
import {
  ADMIN,
  Browser,
  csrfOf,
  setCookie,
  setupAdmin,
  signIn,
  startTestServer,
  tempDir,
  type TestServer,
} from "../support/server";
import { rowsOf, writeRows } from "../support/store";

// Sign-ins hash with argon2id: generous on a busy machine, where a throttling test takes 20-30 s (bunfig's [test]
// timeout is not read by bun test).
setDefaultTimeout(60_000);

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
const count = async (server: TestServer, sql: string, ...params: (string | number)[]) =>
  (await rowsOf<{ n: number }>(server.ctx.db, `SELECT count(*) AS n FROM (${sql}) AS counted`, ...params))[0]!.n;

describe("first-run setup", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  test("a fresh database sends every page to /setup", async () => {
    for (const path of ["/", "/login", "/tokens"]) {
      const res = await fetch(server.url + path, { redirect: "manual" });
      expect(res.status, path).toBe(path === "/tokens" ? 303 : 303);
      expect(res.headers.get("location"), path).toBe(path === "/tokens" ? "/login?next=%2Ftokens" : "/setup");
    }
    const setup = await fetch(server.url + "/setup");
    expect(setup.status).toBe(200);
    expect(await setup.text()).toContain("Create the first administrator");
  });

  test("invalid input is shown back with field errors and creates nothing", async () => {
    const browser = new Browser(server.url);
    const res = await browser.submit("/setup", "/setup", {
      email: "not-an-email",
      password: "short",
      firstname: "Ada",
    });
    expect(res.status).toBe(422);
    const page = await res.text();
    expect(page).toContain("must be a valid email address");
    expect(page).toContain("must be at least 12 characters");
    expect(page).toContain('value="Ada"');
    expect(page).not.toContain('value="short"');
    expect(await count(server, "SELECT * FROM users")).toBe(0);
    expect(browser.cookies.has("sb_session")).toBe(false);
  });

  test("creates the first admin with an argon2id hash and signs them in with a server-side session", async () => {
    const browser = await setupAdmin(server);
    const [row] = await rowsOf<{ id: number; email: string; password_hash: string }>(
      server.ctx.db,
      "SELECT id, email, password_hash FROM users",
    );
    if (!row) throw new Error("no user after setup");
    expect(row.email).toBe(ADMIN.email);
    expect(row.password_hash.startsWith("$argon2id$")).toBe(true);
    expect(row.password_hash).not.toContain(ADMIN.password);
    expect(await count(server, "SELECT * FROM user_roles WHERE user_id = ? AND role_id = 1", row.id)).toBe(1);
    // The cookie holds a random token; the sessions table only its SHA-256.
    const token = browser.cookies.get("sb_session")!;
    expect(token.length).toBeGreaterThanOrEqual(40);
    const [session] = await rowsOf<{ id: string; user_id: number }>(
      server.ctx.db,
      "SELECT id, user_id FROM sessions WHERE id = ?",
      sha256(token),
    );
    expect(session?.user_id).toBe(row.id);
    expect(await count(server, "SELECT * FROM sessions WHERE id = ?", token)).toBe(0);
    expect((await browser.get("/")).status).toBe(200);
  });

  test("then closes for good: GET redirects, POST creates nothing", async () => {
    const get = await fetch(server.url + "/setup", { redirect: "manual" });
    expect(get.status).toBe(303);
    expect(get.headers.get("location")).toBe("/login");

    const intruder = new Browser(server.url);
    await intruder.get("/login"); // sets the pre-session CSRF cookie
    const csrf = intruder.cookies.get("sb_csrf")!;
    const post = await intruder.request("/setup", {
      method: "POST",
      form: { _csrf: csrf, email: "intruder@example.com", password: "long enough password" },
    });
    expect(post.status).toBe(303);
    expect(post.headers.get("location")).toBe("/login");
    expect(intruder.cookies.has("sb_session")).toBe(false);
    expect(await count(server, "SELECT * FROM users WHERE email = 'intruder@example.com'")).toBe(0);
    expect(await count(server, "SELECT * FROM user_roles")).toBe(1);
  });
});

describe("sign-in and sign-out", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await setupAdmin(server);
  });
  afterAll(() => server.close());

  test("a signed-out visitor is sent to /login, and back after signing in", async () => {
    const browser = new Browser(server.url);
    const res = await browser.get("/tokens");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?next=%2Ftokens");
    const login = await browser.request("/login?next=%2Ftokens");
    const page = await login.text();
    expect(page).toContain('name="next" value="&#x2F;tokens"');
    const signedIn = await browser.request("/login", {
      method: "POST",
      form: { _csrf: csrfOf(page), email: ADMIN.email, password: ADMIN.password, next: "/tokens" },
    });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get("location")).toBe("/tokens");
  });

  test("never redirects off-site after sign-in", async () => {
    for (const next of ["//evil.example/", "https://evil.example/", "/\\evil.example"]) {
      const browser = new Browser(server.url);
      const res = await browser.submit("/login", "/login", { email: ADMIN.email, password: ADMIN.password, next });
      expect(res.headers.get("location")).toBe("/");
    }
  });

  test("a next= with whitespace, control or non-ASCII chars falls back to / (no 500, no open redirect)", async () => {
    // Browsers drop tab and newline from URLs: "/\t/evil.example" would become "//evil.example".
    for (const next of [
      "/\t/evil.example",
      "/\n/evil.example",
      "/\r\nSet-Cookie: x=1",
      "/a\rb",
      "/\u3000/evil.example",
      "/caf\u00e9",
      "/ /evil.example",
      "/a\\b",
      "/\x00x",
      "/\x7f",
    ]) {
      const browser = new Browser(server.url);
      const res = await browser.submit("/login", "/login", { email: ADMIN.email, password: ADMIN.password, next });
      expect(res.status, JSON.stringify(next)).toBe(303);
      expect(res.headers.get("location"), JSON.stringify(next)).toBe("/");
      expect(browser.cookies.has("sb_session")).toBe(true);
    }
    const kept = await new Browser(server.url).submit("/login", "/login", {
      email: ADMIN.email,
      password: ADMIN.password,
      next: "/people?q=a%20b&sort=name#top",
    });
    expect(kept.headers.get("location")).toBe("/people?q=a%20b&sort=name#top");
  });

  test("email is matched without regard to case or surrounding spaces", async () => {
    await signIn(server, `  ${ADMIN.email.toUpperCase()} `, ADMIN.password);
  });

  test("a wrong password or unknown email is refused with one message", async () => {
    for (const [email, password] of [
      [ADMIN.email, "wrong password!"],
      ["nobody@example.com", ADMIN.password],
    ]) {
      const browser = new Browser(server.url);
      const res = await browser.submit("/login", "/login", { email: email!, password: password! });
      expect(res.status).toBe(401);
      const page = await res.text();
      expect(page).toContain("Email or password is wrong.");
      expect(page).toContain(`value="${email}"`);
      expect(browser.cookies.has("sb_session")).toBe(false);
    }
  });

  test("the session cookie is HttpOnly and SameSite=Lax, not Secure over plain http", async () => {
    const browser = new Browser(server.url);
    const res = await browser.submit("/login", "/login", { email: ADMIN.email, password: ADMIN.password });
    const cookie = setCookie(res, "sb_session")!;
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).toContain("Path=/");
    expect(cookie).not.toContain("Secure");
  });

  test("signing out deletes the session row; the old cookie no longer works", async () => {
    const browser = await signIn(server);
    const token = browser.cookies.get("sb_session")!;
    expect(await count(server, "SELECT * FROM sessions WHERE id = ?", sha256(token))).toBe(1);
    const res = await browser.submit("/", "/logout", {});
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login");
    expect(setCookie(res, "sb_session")).toContain("Max-Age=0");
    expect(await count(server, "SELECT * FROM sessions WHERE id = ?", sha256(token))).toBe(0);
    const replay = await fetch(server.url + "/", { headers: { cookie: `sb_session=${token}` }, redirect: "manual" });
    expect(replay.status).toBe(303);
    expect(replay.headers.get("location")).toBe("/login?next=%2F");
    // The flash message tells the admin what happened.
    expect(await (await browser.get("/login")).text()).toContain("You are signed out.");
  });

  test("a signed-in admin visiting /login goes to the dashboard", async () => {
    const browser = await signIn(server);
    const res = await browser.get("/login");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/");
  });

  test("a made-up session cookie is not a session", async () => {
    const res = await fetch(server.url + "/", { headers: { cookie: "sb_session=made-up" }, redirect: "manual" });
    expect(res.status).toBe(303);
  });
});

describe("cookies under an https base URL", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ baseUrl: "https://switchboard.example" });
  });
  afterAll(() => server.close());

  test("are Secure", async () => {
    const browser = new Browser(server.url);
    const setup = await browser.get("/setup");
    expect(setCookie(setup, "sb_csrf")).toContain("Secure");
    const res = await browser.request("/setup", {
      method: "POST",
      form: { _csrf: browser.cookies.get("sb_csrf")!, email: ADMIN.email, password: ADMIN.password },
    });
    expect(res.status).toBe(303);
    const cookie = setCookie(res, "sb_session")!;
    expect(cookie).toContain("Secure");
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
  });
});

describe("idle sessions", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ sessionIdleMinutes: "1" });
    await setupAdmin(server);
  });
  afterAll(() => server.close());

  const age = (browser: Browser, ms: number) =>
    writeRows(
      server.ctx.db,
      "UPDATE sessions SET last_seen_at = last_seen_at - ? WHERE id = ?",
      ms,
      sha256(browser.cookies.get("sb_session")!),
    );

  test("a session idle longer than --session-idle-minutes ends: the next request goes to /login", async () => {
    const browser = await signIn(server);
    expect((await browser.get("/")).status).toBe(200);
    await age(browser, 2 * 60_000);
    const res = await browser.get("/");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?next=%2F");
    expect(await count(server, "SELECT * FROM sessions WHERE id = ?", sha256(browser.cookies.get("sb_session")!))).toBe(
      0,
    );
  });

  test("a form posted after the session ended leads to sign-in, not to a CSRF error, and changes nothing", async () => {
    const browser = await signIn(server);
    const page = await (await browser.get("/tokens")).text();
    await age(browser, 2 * 60_000);
    const res = await browser.request("/tokens", {
      method: "POST",
      form: { _csrf: csrfOf(page), name: "after-expiry" },
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login");
    const htmx = await browser.request("/tokens/1/revoke", {
      method: "POST",
      headers: { "HX-Request": "true", "X-CSRF-Token": csrfOf(page) },
    });
    expect(htmx.headers.get("hx-redirect")).toBe("/login");
    expect(await count(server, "SELECT * FROM api_tokens")).toBe(0);
    // Signing in again from the same browser (the stale cookie still sent) works.
    const again = await browser.submit("/login", "/login", { email: ADMIN.email, password: ADMIN.password });
    expect(again.status).toBe(303);
    expect((await browser.get("/")).status).toBe(200);
  });

  test("a request keeps a session alive", async () => {
    const browser = await signIn(server);
    await age(browser, 50_000); // not yet idle for a minute
    expect((await browser.get("/")).status).toBe(200);
    await age(browser, 50_000); // idle 100 s since sign-in, but only ~50 s since the last request
    expect((await browser.get("/")).status).toBe(200);
  });
});

describe("CSRF", () => {
  let server: TestServer;
  let admin: Browser;
  let other: { id: number };
  let tokenId: number;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await setupAdmin(server);
    await admin.submit("/admins", "/admins", { email: "other@example.com", password: "long enough password" });
    other = (await rowsOf<{ id: number }>(server.ctx.db, "SELECT id FROM users WHERE email = 'other@example.com'"))[0]!;
    await admin.submit("/tokens", "/tokens", { name: "csrf-target" });
    tokenId = (await rowsOf<{ id: number }>(server.ctx.db, "SELECT id FROM api_tokens"))[0]!.id;
  });
  afterAll(() => server.close());

  const forms = (): [string, Record<string, string>][] => [
    ["/setup", { email: "x@example.com", password: "long enough password" }],
    ["/login", { email: ADMIN.email, password: ADMIN.password }],
    ["/logout", {}],
    ["/admins", { email: "csrf@example.com", password: "long enough password" }],
    [`/admins/${other.id}/remove`, {}],
    [
      "/account/password",
      {
        current_password: ADMIN.password,
        new_password: "a new long password",
        confirm_password: "a new long password",
      },
    ],
    ["/tokens", { name: "csrf-made" }],
    [`/tokens/${tokenId}/revoke`, {}],
  ];

  const unchanged = async () => {
    expect(await count(server, "SELECT * FROM users WHERE email IN ('x@example.com', 'csrf@example.com')")).toBe(0);
    expect(await count(server, "SELECT * FROM user_roles WHERE user_id = ?", other.id)).toBe(1);
    expect(await count(server, "SELECT * FROM api_tokens WHERE revoked_at IS NULL")).toBe(1);
    expect((await admin.get("/")).status).toBe(200); // still signed in, password unchanged
  };

  test("every state-changing form without a token gets 403", async () => {
    for (const [path, form] of forms()) {
      const res = await admin.request(path, { method: "POST", form });
      expect(res.status, path).toBe(403);
      expect(await res.text(), path).toContain("CSRF");
    }
    await unchanged();
  });

  test("every state-changing form with a wrong token gets 403", async () => {
    const right = csrfOf(await (await admin.get("/")).text());
    const wrong = right.slice(0, -2) + (right.endsWith("AA") ? "BB" : "AA");
    for (const [path, form] of forms()) {
      expect((await admin.request(path, { method: "POST", form: { ...form, _csrf: wrong } })).status, path).toBe(403);
      expect(
        (await admin.request(path, { method: "POST", form, headers: { "X-CSRF-Token": wrong } })).status,
        path,
      ).toBe(403);
    }
    await unchanged();
  });

  test("a cross-site Origin gets 403 even with the right token", async () => {
    const csrf = csrfOf(await (await admin.get("/")).text());
    for (const [path, form] of forms()) {
      const res = await admin.request(path, {
        method: "POST",
        form: { ...form, _csrf: csrf },
        headers: { origin: "https://evil.example" },
      });
      expect(res.status, path).toBe(403);
    }
    await unchanged();
  });

  test("another signed-in admin's token is not this session's token", async () => {
    const second = await signIn(server);
    const theirs = csrfOf(await (await second.get("/")).text());
    expect(
      (await admin.request("/tokens", { method: "POST", form: { _csrf: theirs, name: "csrf-made" } })).status,
    ).toBe(403);
    await unchanged();
  });

  test("the right token passes, as a form field or the X-CSRF-Token header, with a same-origin Origin", async () => {
    const csrf = csrfOf(await (await admin.get("/")).text());
    const viaField = await admin.request("/tokens", {
      method: "POST",
      form: { _csrf: csrf, name: "via-field" },
      headers: { origin: server.url },
    });
    expect(viaField.status).toBe(303);
    const viaHeader = await admin.request("/tokens", {
      method: "POST",
      form: { name: "via-header" },
      headers: { "X-CSRF-Token": csrf },
    });
    expect(viaHeader.status).toBe(303);
    expect(await count(server, "SELECT * FROM api_tokens WHERE name IN ('via-field', 'via-header')")).toBe(2);
  });
});

describe("sign-in throttling", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await setupAdmin(server);
  });
  afterAll(() => server.close());

  test("after 5 failed sign-ins the 6th, even with the right password, gets 429 with Retry-After", async () => {
    const browser = new Browser(server.url);
    for (let i = 0; i < 5; i++) {
      expect(
        (await browser.submit("/login", "/login", { email: ADMIN.email, password: `wrong guess ${i}` })).status,
      ).toBe(401);
    }
    const res = await browser.submit("/login", "/login", { email: ADMIN.email, password: ADMIN.password });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect(await res.text()).toContain("Too many failed sign-ins");
    expect(browser.cookies.has("sb_session")).toBe(false);
    expect(server.logs.some((l) => JSON.parse(l).msg === "sign-in throttled")).toBe(true);
  });

  test("one address trying many accounts is throttled too", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < MAX_ATTEMPTS_PER_ADDRESS; i++) {
      statuses.push(
        (
          await new Browser(server.url).submit("/login", "/login", {
            email: `someone${i}@example.com`,
            password: "whatever password",
          })
        ).status,
      );
    }
    expect(statuses.at(-1)).toBe(429);
  });

  test("no trusted proxy: X-Forwarded-For is ignored; changing it escapes no throttle, nor is it logged", async () => {
    const res = await attempt(server, ADMIN.password, "198.51.100.99");
    expect(res.status).toBe(429);
    const lines = server.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");
    expect(lines.some((l) => l.ip === "198.51.100.99")).toBe(false);
    expect(lines.at(-1).ip).toBe("127.0.0.1");
  });
});

/** One sign-in form post (with a fresh pre-session CSRF token), optionally through a proxy naming the client. */
async function attempt(server: TestServer, password: string, forwardedFor?: string) {
  const browser = new Browser(server.url);
  const csrf = csrfOf(await (await browser.get("/login")).text());
  const headers: Record<string, string> = forwardedFor ? { "x-forwarded-for": forwardedFor } : {};
  return browser.request("/login", { method: "POST", form: { _csrf: csrf, email: ADMIN.email, password }, headers });
}

/** The statuses of `n` wrong-password sign-ins sent all at once from one browser. */
async function parallelWrongPasswords(server: TestServer, n: number, forwardedFor?: string): Promise<number[]> {
  const browser = new Browser(server.url);
  const csrf = csrfOf(await (await browser.get("/login")).text());
  const headers: Record<string, string> = forwardedFor ? { "x-forwarded-for": forwardedFor } : {};
  const posts = Array.from({ length: n }, (_, i) =>
    browser.request("/login", {
      method: "POST",
      form: { _csrf: csrf, email: ADMIN.email, password: `wrong guess ${i}` },
      headers,
    }),
  );
  return Promise.all(posts.map(async (p) => (await p).status));
}

describe("sign-in throttling under parallel guessing", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await setupAdmin(server);
  });
  afterAll(() => server.close());

  test("300 wrong passwords at once: all are counted, at most 5 are checked, the rest get 429", async () => {
    const statuses = await parallelWrongPasswords(server, 300);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(MAX_ATTEMPTS_PER_ACCOUNT);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(300 - MAX_ATTEMPTS_PER_ACCOUNT);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
  });
});

describe("sign-in throttling behind a trusted proxy", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ trustedProxy: "127.0.0.1" });
    await setupAdmin(server);
  });
  afterAll(() => server.close());

  test("an attacker elsewhere cannot lock the admin out: the admin still signs in from their own address", async () => {
    const statuses = await parallelWrongPasswords(server, 300, "203.0.113.5");
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(300 - MAX_ATTEMPTS_PER_ACCOUNT);
    expect((await attempt(server, ADMIN.password, "203.0.113.5")).status).toBe(429);
    const victim = await attempt(server, ADMIN.password, "198.51.100.7");
    expect(victim.status).toBe(303);
  });

  test("an IPv6 client is counted by its /64: rotating through its own addresses escapes no throttle", async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= MAX_ATTEMPTS_PER_ACCOUNT + 1; i++)
      statuses.push((await attempt(server, `wrong guess ${i}`, `2001:db8:7:7::${i.toString(16)}`)).status);
    expect(statuses).toEqual([...Array(MAX_ATTEMPTS_PER_ACCOUNT).fill(401), 429]);
    // Written out in full or shortened differently, it is the same network.
    expect((await attempt(server, ADMIN.password, "2001:0DB8:0007:0007:ffff:0:0:1")).status).toBe(429);
    expect((await attempt(server, ADMIN.password, "2001:db8:7:8::1")).status).toBe(303);
  });

  test("the client address is the rightmost hop that is not the proxy, in sessions and logs", async () => {
    // The leftmost entry is whatever the client claimed; the proxy appended the address it saw.
    const res = await attempt(server, ADMIN.password, "6.6.6.6, 198.51.100.8");
    expect(res.status).toBe(303);
    const ips = (await rowsOf<{ ip: string }>(server.ctx.db, "SELECT ip FROM sessions")).map((r) => r.ip);
    expect(ips).toContain("198.51.100.8");
    expect(ips).not.toContain("6.6.6.6");
    const lines = server.logs.map((l) => JSON.parse(l));
    expect(lines.some((l) => l.msg === "request" && l.ip === "198.51.100.8")).toBe(true);
    expect(lines.some((l) => l.ip === "6.6.6.6")).toBe(false);
  });
});

describe("sign-in throttling across a restart", () => {
  test("the counters are in the database: a restarted server still refuses the 6th attempt", async () => {
    const dataDir = tempDir();
    try {
      let server = await startTestServer({ dataDir });
      await setupAdmin(server);
      for (let i = 0; i < MAX_ATTEMPTS_PER_ACCOUNT; i++)
        expect((await attempt(server, `wrong guess ${i}`)).status).toBe(401);
      await server.close();
      server = await startTestServer({ dataDir });
      try {
        expect((await attempt(server, ADMIN.password)).status).toBe(429);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("administrators", () => {
  let server: TestServer;
  let admin: Browser;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await setupAdmin(server);
  });
  afterAll(() => server.close());
  const idOf = async (email: string) =>
    (await rowsOf<{ id: number }>(server.ctx.db, "SELECT id FROM users WHERE email = ?", email))[0]?.id;

  test("an admin adds another admin, who can sign in", async () => {
    const res = await admin.submit("/admins", "/admins", {
      email: "Second@Example.com",
      password: "second admin password",
      firstname: "Sec",
      lastname: "Ond",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admins");
    const page = await (await admin.get("/admins")).text();
    expect(page).toContain("second@example.com is now an administrator.");
    expect(page).toContain("<td>Sec Ond</td>");
    await signIn(server, "second@example.com", "second admin password");
  });

  test("an invalid or duplicate admin is shown back with field errors", async () => {
    const dup = await admin.submit("/admins", "/admins", { email: ADMIN.email, password: "long enough password" });
    expect(dup.status).toBe(422);
    expect(await dup.text()).toContain("already taken");
    const bad = await admin.submit("/admins", "/admins", { email: "third@example.com", password: "short" });
    expect(bad.status).toBe(422);
    const page = await bad.text();
    expect(page).toContain("must be at least 12 characters");
    expect(page).toContain('value="third@example.com"');
    expect(await idOf("third@example.com")).toBeUndefined();
  });

  test("an admin removes another admin: their sessions end and they cannot sign in", async () => {
    await admin.submit("/admins", "/admins", { email: "leaving@example.com", password: "leaving admin password" });
    const leaving = await signIn(server, "leaving@example.com", "leaving admin password");
    const id = (await idOf("leaving@example.com"))!;
    const res = await admin.submit("/admins", `/admins/${id}/remove`, {});
    expect(res.status).toBe(303);
    expect((await leaving.get("/")).status).toBe(303);
    const again = await new Browser(server.url).submit("/login", "/login", {
      email: "leaving@example.com",
      password: "leaving admin password",
    });
    expect(again.status).toBe(401);
    expect(await (await admin.get("/admins")).text()).not.toContain("leaving@example.com");
  });

  test("the htmx remove answers an empty 200", async () => {
    await admin.submit("/admins", "/admins", { email: "htmx@example.com", password: "htmx admin password" });
    const csrf = csrfOf(await (await admin.get("/admins")).text());
    const res = await admin.request(`/admins/${await idOf("htmx@example.com")}/remove`, {
      method: "POST",
      headers: { "HX-Request": "true", "X-CSRF-Token": csrf },
    });
    expect(res.status).toBe(200);
    // No longer an admin; a person always keeps a role, so they stay as a customer.
    expect(
      await count(
        server,
        "SELECT * FROM user_roles WHERE user_id = ? AND role_id = 1",
        (await idOf("htmx@example.com"))!,
      ),
    ).toBe(0);
  });

  test("an admin cannot remove themselves", async () => {
    const page = await (await admin.get("/admins")).text();
    const self = (await idOf(ADMIN.email))!;
    expect(page).not.toContain(`/admins/${self}/remove`); // no button for it
    const res = await admin.submit("/admins", `/admins/${self}/remove`, {});
    expect(res.status).toBe(409);
    expect(await res.text()).toContain("cannot remove your own admin account");
    expect((await admin.get("/")).status).toBe(200);
    expect(await count(server, "SELECT * FROM user_roles WHERE user_id = ?", self)).toBe(1);
  });
});

describe("changing one's own password", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await setupAdmin(server);
  });
  afterAll(() => server.close());

  test("a wrong current password is a 422 field error, and nothing changes", async () => {
    const browser = await signIn(server);
    const res = await browser.submit("/account", "/account/password", {
      current_password: "not my password",
      new_password: "a brand new password",
      confirm_password: "a brand new password",
    });
    expect(res.status).toBe(422);
    const page = await res.text();
    expect(page).toMatch(
      /<p class="field-error" role="alert" id="current_password-error">is not your current password<\/p>/,
    );
    expect(page).toMatch(/id="current_password"[^>]*aria-invalid="true"/);
    await signIn(server); // the old password still works
  });

  test("a mismatched confirmation or a short password is a 422 naming the field", async () => {
    const browser = await signIn(server);
    const mismatch = await browser.submit("/account", "/account/password", {
      current_password: ADMIN.password,
      new_password: "a brand new password",
      confirm_password: "something else",
    });
    expect(mismatch.status).toBe(422);
    expect(await mismatch.text()).toContain("does not match the new password");
    const short = await browser.submit("/account", "/account/password", {
      current_password: ADMIN.password,
      new_password: "short",
      confirm_password: "short",
    });
    expect(short.status).toBe(422);
    expect(await short.text()).toContain("must be at least 12 characters");
  });

  test("a new password signs out the admin's other sessions, not this one", async () => {
    const here = await signIn(server);
    const elsewhere = await signIn(server);
    const res = await here.submit("/account", "/account/password", {
      current_password: ADMIN.password,
      new_password: "a brand new password",
      confirm_password: "a brand new password",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account");
    expect(await (await here.get("/account")).text()).toContain("Password changed.");
    expect((await elsewhere.get("/")).status).toBe(303);
    expect(await count(server, "SELECT * FROM sessions")).toBe(1);
    const hash = (await rowsOf<{ h: string }>(server.ctx.db, "SELECT password_hash AS h FROM users"))[0]!.h;
    expect(hash.startsWith("$argon2id$")).toBe(true);
    await signIn(server, ADMIN.email, "a brand new password");
    const old = await new Browser(server.url).submit("/login", "/login", {
      email: ADMIN.email,
      password: ADMIN.password,
    });
    expect(old.status).toBe(401);
  });
});
