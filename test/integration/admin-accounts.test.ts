import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startApi, type Api } from "../support/api";
import { decodeEntities, htmxHeaders } from "../support/admin-seed";
import { ADMIN, Browser, createToken, csrfOf, setupAdmin, signIn, startTestServer, tempDir } from "../support/server";
import { describeOnSqlite, rowsOf, writeRows } from "../support/store";

setDefaultTimeout(30_000);

/** Administrators, their API tokens, sessions and passwords: who can change admins, and what follows. */
let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.server.close());

const sql = <T>(query: string, ...params: (string | number)[]) => rowsOf<T>(api.server.ctx.db, query, ...params);
const asToken = (token: string, method: string, path: string, body?: unknown) =>
  fetch(api.server.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

let seq = 0;
/** A second administrator (through the API), signed in, with an API token of their own (through the UI). */
async function otherAdmin() {
  const email = `admin${++seq}@example.com`;
  const password = `second admin password ${seq}`;
  const created = await api.call("POST", "/api/v1/admins", { email, password });
  expect(created.status).toBe(201);
  const browser = await signIn(api.server, email, password);
  const token = await createToken(browser, `token of ${email}`);
  return { id: created.body.id as number, email, password, browser, token };
}
const firstAdminId = async () =>
  (await sql<{ id: number }>("SELECT id FROM users WHERE email = ?", ADMIN.email))[0]!.id;

describe("API tokens belong to an admin", () => {
  test("the tokens API and page name each token's owner", async () => {
    const other = await otherAdmin();
    const list = await api.call("GET", "/api/v1/tokens");
    const mine = list.body.data.find((t: { name: string }) => t.name === `token of ${other.email}`);
    expect(mine.owner).toEqual({ id: other.id, email: other.email });
    expect(mine.suspended).toBe(false);
    const page = decodeEntities(await (await other.browser.get("/tokens")).text());
    expect(page).toMatch(new RegExp(`token of ${other.email}</td>[\\s\\S]*?<td>${other.email}</td>`));
  });

  test("removing an admin revokes their tokens: they get 401 and leave the list", async () => {
    const other = await otherAdmin();
    expect((await asToken(other.token, "GET", "/api/v1/admins")).status).toBe(200);
    expect((await api.call("DELETE", `/api/v1/admins/${other.id}`)).status).toBe(204);
    const attempt = await asToken(other.token, "POST", "/api/v1/admins", {
      email: "evil@example.com",
      password: "a takeover attempt",
    });
    expect(attempt.status).toBe(401);
    expect(await sql("SELECT id FROM users WHERE email = 'evil@example.com'")).toEqual([]);
    const names = (await api.call("GET", "/api/v1/tokens")).body.data.map((t: { name: string }) => t.name);
    expect(names).not.toContain(`token of ${other.email}`);
    // Granting the role again does not bring a revoked token back.
    expect((await api.call("PATCH", `/api/v1/users/${other.id}`, { role_ids: [1] })).status).toBe(200);
    expect((await asToken(other.token, "GET", "/api/v1/admins")).status).toBe(401);
  });

  test("demoting an admin through the users API revokes their tokens and ends their sessions", async () => {
    const other = await otherAdmin();
    // Used just before: the token is authenticated from memory until the change.
    expect((await asToken(other.token, "GET", "/api/v1/users")).status).toBe(200);
    const res = await api.call("PATCH", `/api/v1/users/${other.id}`, { role_ids: [2] });
    expect(res.status).toBe(200);
    expect(res.body.role_ids).toEqual([2]);
    expect((await asToken(other.token, "GET", "/api/v1/users")).status).toBe(401);
    expect((await other.browser.get("/")).status).toBe(303);
  });

  test("deleting an admin's user revokes their tokens", async () => {
    const other = await otherAdmin();
    expect((await asToken(other.token, "GET", "/api/v1/users")).status).toBe(200);
    expect((await api.call("DELETE", `/api/v1/users/${other.id}`)).status).toBe(204);
    expect((await asToken(other.token, "GET", "/api/v1/users")).status).toBe(401);
    expect(
      (
        await sql<{ revoked: number }>(
          "SELECT count(*) AS revoked FROM api_tokens WHERE revoked_at IS NULL AND created_by_id IS NULL",
        )
      )[0]!.revoked,
    ).toBe(0);
  });

  test("deactivating an admin suspends their tokens and sessions; reactivating restores them", async () => {
    const other = await otherAdmin();
    expect((await asToken(other.token, "GET", "/api/v1/users")).status).toBe(200);
    expect((await api.call("PATCH", `/api/v1/users/${other.id}`, { active: false })).status).toBe(200);
    const refused = await asToken(other.token, "GET", "/api/v1/users");
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("suspended");
    expect((await other.browser.get("/")).status).toBe(303);
    const listed = (await api.call("GET", "/api/v1/tokens")).body.data.find(
      (t: { name: string }) => t.name === `token of ${other.email}`,
    );
    expect(listed.suspended).toBe(true);
    expect((await api.call("PATCH", `/api/v1/users/${other.id}`, { active: true })).status).toBe(200);
    expect((await asToken(other.token, "GET", "/api/v1/users")).status).toBe(200);
  });
});

describe("the last active administrator", () => {
  test("cannot be demoted, deactivated or deleted through the users API (409)", async () => {
    const self = await firstAdminId();
    // Every other admin made by earlier tests is removed first.
    for (const a of (await api.call("GET", "/api/v1/admins")).body.data)
      if (a.id !== self) expect((await api.call("DELETE", `/api/v1/admins/${a.id}`)).status).toBe(204);
    for (const [method, body] of [
      ["PATCH", { role_ids: [2] }],
      ["PATCH", { roles: ["Customer"] }],
      ["PATCH", { active: false }],
      ["PUT", { role_ids: [3] }],
      ["DELETE", undefined],
    ] as const) {
      const res = await api.call(method, `/api/v1/users/${self}`, body);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe("conflict");
      expect(res.body.error.message).toContain("last active administrator");
    }
    const me = await api.call("GET", `/api/v1/users/${self}`);
    expect(me.body).toMatchObject({ role_ids: [1], active: true });
    expect((await fetch(api.server.url + "/setup", { redirect: "manual" })).status).toBe(303);
  });

  test("cannot be deactivated in the people UI either; another admin can, once there is one", async () => {
    const admin = await signIn(api.server);
    const self = await firstAdminId();
    const page = await (await admin.get(`/people/${self}`)).text();
    const res = await admin.request(`/people/${self}`, {
      method: "POST",
      form: { _csrf: csrfOf(page), email: ADMIN.email, firstname: "Ada", lastname: "Admin" },
    });
    expect(res.status).toBe(409);
    expect(decodeEntities(await res.text())).toContain("last active administrator");
    expect((await sql<{ active: number }>("SELECT active FROM users WHERE id = ?", self))[0]!.active).toBe(1);
    const other = await otherAdmin();
    expect((await asToken(other.token, "PATCH", `/api/v1/users/${self}`, { active: false })).status).toBe(200);
    expect((await asToken(other.token, "PATCH", `/api/v1/users/${self}`, { active: true })).status).toBe(200);
    expect((await api.call("DELETE", `/api/v1/admins/${other.id}`)).status).toBe(204);
  });

  test("an admin with no password (made via the users API) doesn't count: the last who can sign in stays", async () => {
    const self = await firstAdminId();
    const noPassword = (
      await api.call("POST", "/api/v1/users", { email: "no-password-admin@example.com", role_ids: [1] })
    ).body;
    expect(noPassword.role_ids).toEqual([1]);
    const res = await api.call("PATCH", `/api/v1/users/${self}`, { role_ids: [3] });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain("last active administrator");
    expect((await api.call("GET", `/api/v1/users/${self}`)).body.role_ids).toEqual([1]);
    expect((await api.call("DELETE", `/api/v1/users/${noPassword.id}`)).status).toBe(204);
  });
});

describe("/setup", () => {
  test("stays closed on a database that has had an admin, even when none is left", async () => {
    const server = await startTestServer();
    try {
      await setupAdmin(server);
      // An old database whose admins were all removed before the rule existed.
      await writeRows(server.ctx.db, "DELETE FROM user_roles WHERE role_id = 1");
      const setup = await fetch(server.url + "/setup", { redirect: "manual" });
      expect(setup.status).toBe(303);
      expect(setup.headers.get("location")).toBe("/login");
      const login = await fetch(server.url + "/login", { redirect: "manual" });
      expect(login.status).toBe(200);
      const intruder = new Browser(server.url);
      const post = await intruder.submit("/login", "/setup", {
        email: "intruder@example.com",
        password: "an intruder password",
      });
      expect(post.status).toBe(303);
      expect(post.headers.get("location")).toBe("/login");
      expect(await rowsOf(server.ctx.db, "SELECT id FROM users WHERE email = 'intruder@example.com'")).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describeOnSqlite(
  "the database file next to secret.key is SQLite's (a PostgreSQL database is no file in the data directory)",
  "a SQLite data directory",
  () => {
    test("an empty or missing database next to an existing secret.key is a start-up error naming the file", async () => {
      const dataDir = join(tempDir(), "data");
      try {
        const server = await startTestServer({ dataDir });
        await setupAdmin(server);
        await server.close();
        const db = join(dataDir, "switchboard.db");
        for (const f of ["-wal", "-shm", ""]) rmSync(db + f, { force: true });
        await expect(startTestServer({ dataDir })).rejects.toThrow(
          `database ${db} is missing but ${join(dataDir, "secret.key")} exists`,
        );
        writeFileSync(db, "");
        await expect(startTestServer({ dataDir })).rejects.toThrow(/is empty .*restore the database from a backup/);
      } finally {
        rmSync(join(dataDir, ".."), { recursive: true, force: true });
      }
    });
  },
);

describe("an existing person made an administrator", () => {
  test("in the UI and the API: the same person gains the Admin role and a password, keeping their data", async () => {
    const customer = await api.call("POST", "/api/v1/users", {
      email: "promoted@example.com",
      firstname: "Pro",
      lastname: "Moted",
      note: "a loyal customer",
    });
    expect(customer.status).toBe(201);
    const admin = await signIn(api.server);
    const res = await admin.submit("/admins", "/admins", {
      email: "promoted@example.com",
      password: "promoted admin password",
    });
    expect(res.status).toBe(303);
    const after = (await api.call("GET", `/api/v1/users/${customer.body.id}`)).body;
    expect(after).toMatchObject({ id: customer.body.id, firstname: "Pro", note: "a loyal customer" });
    expect(after.role_ids).toContain(1);
    expect(after.role_ids).toContain(3);
    await signIn(api.server, "promoted@example.com", "promoted admin password");
    const byApi = await api.call("POST", "/api/v1/users", { email: "agent.promoted@example.com", role_ids: [2] });
    const promoted = await api.call("POST", "/api/v1/admins", {
      email: "agent.promoted@example.com",
      password: "another admin password",
    });
    expect(promoted.status).toBe(201);
    expect(promoted.body.id).toBe(byApi.body.id);
    const again = await api.call("POST", "/api/v1/admins", {
      email: "agent.promoted@example.com",
      password: "another admin password",
    });
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual([{ field: "email", message: "already taken" }]);
    expect(again.body.error.message).toBe("agent.promoted@example.com is already an administrator");
  });
});

describe("account changes are events", () => {
  test("role_ids: [] (or roles: []) is refused with 422 naming the field, in create, PATCH and PUT", async () => {
    const person = await api.call("POST", "/api/v1/users", { email: "roles@example.com" });
    for (const [method, path] of [
      ["POST", "/api/v1/users"],
      ["PATCH", `/api/v1/users/${person.body.id}`],
      ["PUT", `/api/v1/users/${person.body.id}`],
    ]) {
      for (const body of [
        { email: "roleless@example.com", role_ids: [] },
        { email: "roleless@example.com", roles: [] },
      ]) {
        const res = await api.call(method!, path!, body);
        expect(res.status).toBe(422);
        expect(res.body.error.details.map((d: { field: string }) => d.field)).toEqual([Object.keys(body)[1]]);
      }
    }
    expect((await api.call("GET", `/api/v1/users/${person.body.id}`)).body.role_ids).toEqual([3]);
  });

  test("a new admin (API, UI) records user.created, no password; a removal records the role change", async () => {
    const byApi = await api.call("POST", "/api/v1/admins", {
      email: "evented@example.com",
      password: "evented admin password",
    });
    const admin = await signIn(api.server);
    await admin.submit("/admins", "/admins", { email: "ui-made@example.com", password: "ui made admin password" });
    const byUi = (await sql<{ id: number }>("SELECT id FROM users WHERE email = 'ui-made@example.com'"))[0]!.id;
    for (const id of [byApi.body.id, byUi]) {
      const events = (await api.call("GET", `/api/v1/users/${id}/events`)).body.data;
      expect(events.map((e: { type: string }) => e.type)).toEqual(["user.created"]);
      expect(events[0].changes.role_ids).toEqual([null, [1]]);
      expect(JSON.stringify(events)).not.toContain("password");
    }
    expect((await api.call("DELETE", `/api/v1/admins/${byApi.body.id}`)).status).toBe(204);
    const removed = (await api.call("GET", `/api/v1/users/${byApi.body.id}/events`)).body.data[0];
    expect(removed).toMatchObject({
      type: "user.updated",
      changes: { role_ids: [[1], [3]] },
      actor_id: await firstAdminId(),
    });
    // A person always has a role: a removed admin stays as a customer.
    expect((await api.call("GET", `/api/v1/users/${byApi.body.id}`)).body.role_ids).toEqual([3]);
  });

  test("a password change is an event that holds no password", async () => {
    const other = await otherAdmin();
    const res = await other.browser.submit("/account", "/account/password", {
      current_password: other.password,
      new_password: "another fine passphrase",
      confirm_password: "another fine passphrase",
    });
    expect(res.status).toBe(303);
    const latest = (await api.call("GET", `/api/v1/users/${other.id}/events`)).body.data[0];
    expect(latest).toMatchObject({
      type: "user.updated",
      changes: { password: [null, "changed"] },
      actor_id: other.id,
    });
    expect(JSON.stringify(latest)).not.toContain("another fine passphrase");
  });
});

describe("password rules", () => {
  const attempts: [string, string, string][] = [
    ["eleven char", "password", "must be at least 12 characters"],
    ["rule@example.com", "password", "must not be your email address"],
    ["RULE@example.COM", "password", "must not be your email address"],
    ["rule-rule-rule", "password", "must not be the first part of your email address"],
    ["qwerty123456", "password", "is one of the most common passwords"],
    ["Password123456", "password", "is one of the most common passwords"],
    ["iloveyouiloveyou", "password", "is one of the most common passwords"],
  ];

  test("the admins API refuses short, email-like and common passwords, naming the field", async () => {
    for (const [password, field, message] of attempts) {
      const email = password === "rule-rule-rule" ? "rule-rule-rule@example.com" : "rule@example.com";
      const res = await api.call("POST", "/api/v1/admins", { email, password });
      expect(res.status).toBe(422);
      expect(res.body.error.details).toEqual([{ field, message }]);
    }
    expect(
      (await api.call("POST", "/api/v1/admins", { email: "rule@example.com", password: "a perfectly good one" }))
        .status,
    ).toBe(201);
  });

  test("/setup and the password change apply the same rules", async () => {
    const server = await startTestServer();
    try {
      const browser = new Browser(server.url);
      const res = await browser.submit("/setup", "/setup", {
        email: "first@example.com",
        password: "first@example.com",
      });
      expect(res.status).toBe(422);
      expect(await res.text()).toContain("must not be your email address");
      await setupAdmin(server);
      const admin = await signIn(server);
      const common = await admin.submit("/account", "/account/password", {
        current_password: ADMIN.password,
        new_password: "1q2w3e4r5t6y",
        confirm_password: "1q2w3e4r5t6y",
      });
      expect(common.status).toBe(422);
      expect(await common.text()).toContain("is one of the most common passwords");
      const mine = await admin.submit("/account", "/account/password", {
        current_password: ADMIN.password,
        new_password: ADMIN.email.toUpperCase(),
        confirm_password: ADMIN.email.toUpperCase(),
      });
      expect(mine.status).toBe(422);
      expect(await mine.text()).toContain("must not be your email address");
    } finally {
      await server.close();
    }
  });
});

describe("sessions", () => {
  test("a session ends after --session-max-hours however active it is", async () => {
    const server = await startTestServer({ sessionMaxHours: "2" });
    try {
      const admin = await setupAdmin(server);
      expect((await admin.get("/")).status).toBe(200);
      await writeRows(server.ctx.db, "UPDATE sessions SET created_at = created_at - ?", 2 * 3_600_000 + 1000);
      const res = await admin.get("/");
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toStartWith("/login");
      expect(await rowsOf(server.ctx.db, "SELECT id FROM sessions")).toEqual([]);
    } finally {
      await server.close();
    }
  });

  test("an admin sees their own sessions and revokes another one", async () => {
    const here = await signIn(api.server);
    const elsewhere = new Browser(api.server.url);
    const page = await (await elsewhere.get("/login")).text();
    const signedIn = await elsewhere.request("/login", {
      method: "POST",
      headers: { "user-agent": "Elsewhere Browser/1.0" },
      form: { _csrf: csrfOf(page), email: ADMIN.email, password: ADMIN.password },
    });
    expect(signedIn.status).toBe(303);

    const account = decodeEntities(await (await here.get("/account")).text());
    expect(account).toContain('href="/account/sessions"');
    const list = decodeEntities(await (await here.get("/account/sessions")).text());
    const rows = list.split("<tr").slice(1);
    const otherRow = rows.find((r) => r.includes("Elsewhere Browser/1.0"))!;
    expect(otherRow).toContain("127.0.0.1");
    expect(rows.filter((r) => r.includes(`<span class="badge">this session</span>`))).toHaveLength(1);
    const other = /action="\/account\/sessions\/([0-9a-f]+)\/revoke"/.exec(otherRow);
    expect(other).not.toBeNull();
    const revoke = await here.request(`/account/sessions/${other![1]}/revoke`, {
      method: "POST",
      headers: htmxHeaders("sessions", csrfOf(list)),
    });
    expect(revoke.status).toBe(200);
    expect((await elsewhere.get("/")).status).toBe(303);
    expect((await here.get("/")).status).toBe(200);
    // Another admin's session id is not found for this admin.
    const stranger = await otherAdmin();
    const strangerId = (await sql<{ id: string }>("SELECT id FROM sessions WHERE user_id = ?", stranger.id))[0]!.id;
    expect(
      (
        await here.request(`/account/sessions/${strangerId}/revoke`, {
          method: "POST",
          headers: htmxHeaders("sessions", csrfOf(list)),
        })
      ).status,
    ).toBe(404);
    expect((await stranger.browser.get("/")).status).toBe(200);
  });
});
