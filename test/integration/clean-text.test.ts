import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";
import { csrfOf, signIn, type Browser } from "../support/server";
import { decodeEntities } from "../support/admin-seed";

/** NUL (U+0000) and unpaired surrogates are refused with 422 naming the field, wherever text enters. */
let api: Api;
let admin: Browser;
let writeKey: string;
beforeAll(async () => {
  api = await startApi();
  writeKey = (await api.call("POST", "/api/v1/write_keys", { name: "site" })).body.key;
  admin = await signIn(api.server);
});
afterAll(() => api.server.close());

const NUL = "a\u0000b";
const LONE = "a\ud800b";

async function expectRefused(res: { status: number; body: any }, field: string) {
  expect(res.status).toBe(422);
  expect(res.body.error.code).toBe("validation_failed");
  expect(res.body.error.details).toContainEqual({ field, message: expect.stringMatching(/NUL|unpaired surrogates/) });
}

describe("the REST API", () => {
  test("users, organizations, groups, custom fields and tickets refuse NUL and lone surrogates", async () => {
    await expectRefused(
      await api.call("POST", "/api/v1/users", { email: "nul@example.com", firstname: NUL }),
      "firstname",
    );
    await expectRefused(
      await api.call("POST", "/api/v1/users", { email: "lone@example.com", traits: { bio: [LONE] } }),
      "traits.bio.0",
    );
    await expectRefused(await api.call("POST", "/api/v1/organizations", { name: LONE }), "name");
    await expectRefused(await api.call("POST", "/api/v1/groups", { name: NUL }), "name");
    await expectRefused(
      await api.call("POST", "/api/v1/custom_fields", { object_type: "user", name: "tier", label: NUL, type: "text" }),
      "label",
    );
    const customer = (await api.call("POST", "/api/v1/users", { email: "clean@example.com" })).body;
    await expectRefused(
      await api.call("POST", "/api/v1/tickets", { title: "Help", customer_id: customer.id, article: { body: LONE } }),
      "article.body",
    );
    await expectRefused(await api.call("PATCH", `/api/v1/users/${customer.id}`, { lastname: NUL }), "lastname");
    expect((await api.call("GET", "/api/v1/users?email=nul@example.com")).body.data).toEqual([]);
    expect((await api.call("GET", "/api/v1/users?email=lone@example.com")).body.data).toEqual([]);
    expect((await api.call("GET", `/api/v1/users/${customer.id}`)).body.lastname).toBeNull();
  });
});

describe("Segment ingest", () => {
  const ingest = (path: string, body: unknown) =>
    fetch(api.server.url + path, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
      },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));

  test("identify and batch name the message and the trait", async () => {
    await expectRefused(
      await ingest("/v1/identify", { userId: "u1", traits: { email: "u1@example.com", firstName: NUL } }),
      "batch.0.traits.firstName",
    );
    await expectRefused(
      await ingest("/v1/batch", {
        batch: [
          { type: "identify", userId: "u2", traits: { email: "u2@example.com" } },
          { type: "identify", userId: "u3", traits: { nested: { x: LONE } } },
        ],
      }),
      "batch.1.traits.nested.x",
    );
    expect((await api.call("GET", "/api/v1/users?email=u2@example.com")).body.data).toEqual([]);
  });
});

describe("CSV import", () => {
  test("a row holding NUL is an error of that row and field; nothing is imported", async () => {
    const csv =
      "email,firstname,traits\r\n" +
      "ok@example.com,Ok,\r\n" +
      `bad@example.com,"${NUL}",\r\n` +
      'bad2@example.com,B,"{""x"":""\\ud800""}"\r\n';
    const res = await fetch(`${api.server.url}/api/v1/users/import`, {
      method: "POST",
      headers: { authorization: `Bearer ${api.token}`, "content-type": "text/csv" },
      body: csv,
    });
    expect(res.status).toBe(422);
    const report = await res.json();
    expect(report.errors).toEqual([
      { line: 3, field: "firstname", message: expect.stringContaining("NUL") },
      { line: 4, field: "traits.x", message: expect.stringContaining("unpaired surrogates") },
    ]);
    expect((await api.call("GET", "/api/v1/users?email=ok@example.com")).body.data).toEqual([]);
  });
});

describe("admin forms", () => {
  test("a person form with NUL comes back 422 naming the field, the typed values kept", async () => {
    const page = await (await admin.get("/people/new")).text();
    const res = await admin.request("/people", {
      method: "POST",
      form: { _csrf: csrfOf(page), email: "form@example.com", firstname: "Gr\u0000ace", lastname: "Hopper" },
    });
    expect(res.status).toBe(422);
    const html = decodeEntities(await res.text());
    expect(html).toContain('id="f-firstname-error"');
    expect(html).toContain('value="Hopper"');
    expect((await api.call("GET", "/api/v1/users?email=form@example.com")).body.data).toEqual([]);
  });
});
