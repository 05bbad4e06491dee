import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ADMIN, Browser, createToken, setupAdmin, signIn, startTestServer, type TestServer } from "../support/server";
import { rowsOf } from "../support/store";

// Sign-ins hash with argon2id: generous on a busy machine (bunfig's [test] timeout is not read by bun test).
setDefaultTimeout(30_000);

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

/** Checks the one error shape every API error has, and returns it. */
async function apiError(res: Response, status: number, code?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/json");
  const body = (await res.json()) as { error: { code: string; message: string; details: unknown } };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "details", "message"]);
  expect(typeof body.error.code).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
  if (code) expect(body.error.code).toBe(code);
  return body.error;
}

let server: TestServer;
let admin: Browser;
let token: string;
const api = (path: string, init: RequestInit = {}, bearer: string | null = token) => {
  const headers = new Headers(init.headers);
  if (bearer) headers.set("authorization", `Bearer ${bearer}`);
  if (typeof init.body === "string") headers.set("content-type", "application/json");
  return fetch(server.url + "/api/v1" + path, { ...init, headers });
};
const tokenRow = async (id: number) =>
  (await rowsOf<Record<string, unknown>>(server.ctx.db, "SELECT * FROM api_tokens WHERE id = ?", id))[0]!;

beforeAll(async () => {
  server = await startTestServer();
  admin = await setupAdmin(server);
  token = await createToken(admin, "main");
});
afterAll(() => server.close());

describe("API tokens in the admin UI", () => {
  test("the token is shown once on creation, never on a later page", async () => {
    const created = await admin.submit("/tokens", "/tokens", { name: "billing-system" });
    expect(created.status).toBe(303);
    expect(created.headers.get("location")).toBe("/tokens");
    const page = await (await admin.follow(created)).text();
    const value = /id="new-token">([^<]+)</.exec(page)?.[1];
    expect(value).toMatch(/^sbt_[A-Za-z0-9_-]{40,}$/);
    expect(page).toContain("not shown again");

    const later = await (await admin.get("/tokens")).text();
    expect(later).toContain("billing-system");
    expect(later).toContain(value!.slice(0, 10)); // the prefix identifies it
    expect(later).not.toContain(value!);
    expect(later).not.toContain('id="new-token"');
    const listed = await (await api("/tokens")).text();
    expect(listed).toContain("billing-system");
    expect(listed).not.toContain(value!);
  });

  test("is stored as a SHA-256 hex digest, never in plain", async () => {
    const value = await createToken(admin, "hashed");
    const rows = await rowsOf<Record<string, unknown>>(server.ctx.db, "SELECT * FROM api_tokens");
    const row = rows.find((r) => r.name === "hashed")!;
    expect(row.token_hash).toBe(sha256(value));
    expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
    for (const r of rows) for (const v of Object.values(r)) expect(String(v)).not.toContain(value);
  });

  test("shows when it was last used", async () => {
    const value = await createToken(admin, "usage-tracked");
    const rowOf = (page: string) => /<tr>\s*<td>usage-tracked<\/td>[\s\S]*?<\/tr>/.exec(page)![0];
    expect(rowOf(await (await admin.get("/tokens")).text())).toContain("<td>never</td>");
    expect((await api("/admins", {}, value)).status).toBe(200);
    const row = rowOf(await (await admin.get("/tokens")).text());
    expect(row).not.toContain("<td>never</td>");
    expect(row).toMatch(/<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/td>/);
  });

  test("revoked in the UI, it stops working at once and leaves the list", async () => {
    const value = await createToken(admin, "to-revoke");
    expect((await api("/admins", {}, value)).status).toBe(200);
    const id = ((await (await api("/tokens")).json()) as { data: { id: number; name: string }[] }).data.find(
      (t) => t.name === "to-revoke",
    )!.id;
    const res = await admin.submit("/tokens", `/tokens/${id}/revoke`, {});
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/tokens");
    await apiError(await api("/admins", {}, value), 401, "unauthorized");
    expect((await tokenRow(id)).revoked_at).not.toBeNull();
    expect(await (await admin.get("/tokens")).text()).not.toContain("to-revoke");
  });

  test("the htmx revoke answers an empty 200 (the row is removed client-side)", async () => {
    const value = await createToken(admin, "htmx-revoke");
    const page = await (await admin.get("/tokens")).text();
    const id = /<td>htmx-revoke<\/td>[\s\S]*?action="\/tokens\/(\d+)\/revoke"/.exec(page)![1];
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const res = await admin.request(`/tokens/${id}/revoke`, {
      method: "POST",
      headers: { "HX-Request": "true", "X-CSRF-Token": csrf },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
    await apiError(await api("/admins", {}, value), 401);
  });

  test("an empty name is refused with a field error", async () => {
    const res = await admin.submit("/tokens", "/tokens", { name: "  " });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain("Name is required");
  });
});

describe("/api/v1 authentication", () => {
  test("requires a Bearer token", async () => {
    await apiError(await api("/admins", {}, null), 401, "unauthorized");
    await apiError(
      await fetch(server.url + "/api/v1/admins", { headers: { authorization: `Basic ${btoa("a:b")}` } }),
      401,
    );
    await apiError(await api("/admins", {}, "sbt_not-a-real-token"), 401);
    await apiError(await api("/admins", {}, token.slice(0, -1)), 401);
    await apiError(await api("/admins", {}, token.replace("sbt_", "xyz_")), 401);
  });

  test("a signed-in admin's session cookie is not an API credential", async () => {
    const cookie = [...admin.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("; ");
    await apiError(await fetch(server.url + "/api/v1/admins", { headers: { cookie } }), 401);
  });

  test("a token revoked through the API answers 401", async () => {
    const created = await api("/tokens", { method: "POST", body: JSON.stringify({ name: "api-made" }) });
    expect(created.status).toBe(201);
    const { id, token: value, prefix } = (await created.json()) as { id: number; token: string; prefix: string };
    expect(value.startsWith(prefix)).toBe(true);
    expect((await tokenRow(id)).token_hash).toBe(sha256(value));
    expect((await api("/admins", {}, value)).status).toBe(200);
    expect((await api(`/tokens/${id}`, { method: "DELETE" })).status).toBe(204);
    await apiError(await api("/admins", {}, value), 401);
    await apiError(await api(`/tokens/${id}`, { method: "DELETE" }), 404, "not_found"); // already revoked
  });
});

describe("/api/v1 admins", () => {
  test("lists and creates administrators, who can then sign in", async () => {
    const res = await api("/admins", {
      method: "POST",
      body: JSON.stringify({ email: "  API.Made@Example.com ", password: "long enough password", firstname: "Api" }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: number; email: string };
    expect(created).toMatchObject({
      email: "api.made@example.com",
      firstname: "Api",
      lastname: null,
      last_login: null,
    });
    expect(JSON.stringify(created)).not.toContain("password");
    const list = (await (await api("/admins")).json()) as { data: { email: string }[] };
    expect(list.data.map((a) => a.email)).toEqual(expect.arrayContaining([ADMIN.email, "api.made@example.com"]));
    await signIn(server, "api.made@example.com", "long enough password");
  });

  test("409 on a duplicate email, whatever its case", async () => {
    const err = await apiError(
      await api("/admins", {
        method: "POST",
        body: JSON.stringify({ email: ADMIN.email.toUpperCase(), password: "long enough password" }),
      }),
      409,
      "conflict",
    );
    expect(err.details).toEqual([{ field: "email", message: "already taken" }]);
  });

  test("422 names each invalid field", async () => {
    const err = await apiError(
      await api("/admins", { method: "POST", body: JSON.stringify({ email: "nope", password: "x" }) }),
      422,
      "validation_failed",
    );
    const details = err.details as { field: string; message: string }[];
    expect(details.map((d) => d.field).sort()).toEqual(["email", "password"]);
    for (const d of details) expect(d.message.length).toBeGreaterThan(0);
    expect(err.message).toContain("email");
    expect(err.message).toContain("password");
  });

  test("422 on unknown fields", async () => {
    const err = await apiError(
      await api("/admins", {
        method: "POST",
        body: JSON.stringify({ email: "role@example.com", password: "long enough password", role: "owner" }),
      }),
      422,
      "validation_failed",
    );
    expect(JSON.stringify(err.details)).toContain("role");
    const list = (await (await api("/admins")).json()) as { data: { email: string }[] };
    expect(list.data.map((a) => a.email)).not.toContain("role@example.com");
  });

  test("422 when the body is not an object", async () => {
    await apiError(await api("/admins", { method: "POST", body: "[1,2]" }), 422);
    await apiError(await api("/tokens", { method: "POST", body: JSON.stringify({ name: "" }) }), 422);
  });

  test("400 on malformed JSON", async () => {
    await apiError(await api("/admins", { method: "POST", body: '{"email": "a@example.com",' }), 400, "malformed_body");
  });

  test("404 on an unknown route and an unknown id", async () => {
    const unknown = await apiError(await api("/nothing-here"), 404, "not_found");
    expect(unknown.message).toContain("/api/v1/nothing-here");
    await apiError(await api("/admins/999999", { method: "DELETE" }), 404, "not_found");
    await apiError(await api("/tokens/999999", { method: "DELETE" }), 404, "not_found");
    await apiError(await api("/tokens/not-a-number", { method: "DELETE" }), 404);
  });

  test("removes another administrator, never the token owner", async () => {
    const res = await api("/admins", {
      method: "POST",
      body: JSON.stringify({ email: "leaving@example.com", password: "long enough password" }),
    });
    const { id } = (await res.json()) as { id: number };
    const leaving = await signIn(server, "leaving@example.com", "long enough password");
    expect((await api(`/admins/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await leaving.get("/")).status).toBe(303); // their session ended
    const owner = ((await (await api("/admins")).json()) as { data: { id: number; email: string }[] }).data.find(
      (a) => a.email === ADMIN.email,
    )!;
    await apiError(await api(`/admins/${owner.id}`, { method: "DELETE" }), 409, "conflict");
  });
});

describe("body limit", () => {
  let small: TestServer;
  let smallToken: string;
  beforeAll(async () => {
    small = await startTestServer({ bodyLimit: "2048" });
    smallToken = await createToken(await setupAdmin(small));
  });
  afterAll(() => small.close());
  const post = (body: BodyInit) =>
    fetch(small.url + "/api/v1/tokens", {
      method: "POST",
      headers: { authorization: `Bearer ${smallToken}`, "content-type": "application/json" },
      body,
    });

  test("413 in the error shape for a body over --body-limit", async () => {
    const err = await apiError(await post(JSON.stringify({ name: "x".repeat(10 * 1024) })), 413, "payload_too_large");
    expect(err.message).toContain("2048");
  });

  test("413 for a chunked body (no Content-Length) over the limit", async () => {
    const chunk = new TextEncoder().encode("x".repeat(1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 10) controller.enqueue(chunk);
        else controller.close();
      },
    });
    await apiError(await post(body), 413, "payload_too_large");
  });

  test("a chunked body under the limit still works", async () => {
    const json = new TextEncoder().encode(JSON.stringify({ name: "streamed" }));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(json.subarray(0, 5));
        controller.enqueue(json.subarray(5));
        controller.close();
      },
    });
    const res = await post(body);
    expect(res.status).toBe(201);
    expect(((await res.json()) as { name: string }).name).toBe("streamed");
  });

  test("a body just under the limit is accepted", async () => {
    const res = await post(JSON.stringify({ name: "y".repeat(90) }).padEnd(2000, " "));
    expect(res.status).toBe(201);
  });

  test("the limit applies to admin forms too", async () => {
    const browser = new Browser(small.url);
    const res = await browser.request("/login", {
      method: "POST",
      form: { email: "a@example.com", password: "p".repeat(4096) },
    });
    expect(res.status).toBe(413);
  });
});
