import { Analytics } from "@segment/analytics-node";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";
import { ADMIN, signIn } from "../support/server";

let api: Api;
let writeKey: string;
beforeAll(async () => {
  api = await startApi();
  writeKey = (await api.call("POST", "/api/v1/write_keys", { name: "website" })).body.key;
});
afterAll(() => api.server.close());

const ingest = (path: string, body: unknown, key = writeKey) =>
  fetch(api.server.url + path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}`,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
const userByEmail = async (email: string) =>
  (await api.call("GET", `/api/v1/users?email=${encodeURIComponent(email)}`)).body.data[0];

describe("the real @segment/analytics-node client", () => {
  test("identify calls create and update people, traits mapped onto fields", async () => {
    const analytics = new Analytics({ writeKey, host: api.server.url, flushAt: 3, flushInterval: 50, maxRetries: 0 });
    analytics.identify({
      userId: "pixar123",
      traits: {
        email: "carl.fredricksen@example.com",
        firstName: "Carl",
        lastName: "Fredricksen",
        phone: "555-1234",
        website: "https://up.example",
        avatar: "https://img.example/c.png",
        title: "Balloonist",
        company: { name: "Pixar" },
        plan: "pro",
        address: { street: "1 Paradise Falls", city: "Venezuela" },
      },
    });
    analytics.identify({ userId: "ellie", traits: { email: "ellie@example.com", name: "Ellie Fredricksen" } });
    analytics.identify({ userId: "pixar123", traits: { plan: "enterprise" } });
    await analytics.closeAndFlush({ timeout: 10_000 });
    const carl = await userByEmail("carl.fredricksen@example.com");
    expect(carl).toMatchObject({
      login: "pixar123",
      firstname: "Carl",
      lastname: "Fredricksen",
      phone: "555-1234",
      web: "https://up.example",
      image: "https://img.example/c.png",
      organization: "Pixar",
      address: "1 Paradise Falls\nVenezuela",
    });
    expect(carl.traits).toEqual({ title: "Balloonist", plan: "enterprise" });
    expect(carl.last_seen_at).not.toBeNull();
    const ellie = await userByEmail("ellie@example.com");
    expect(ellie).toMatchObject({ login: "ellie", firstname: "Ellie", lastname: "Fredricksen" });
    const events = (await api.call("GET", `/api/v1/users/${carl.id}/events`)).body.data;
    expect(events[0]).toMatchObject({
      type: "user.updated",
      source: "identify",
      changes: {
        traits: [
          { title: "Balloonist", plan: "pro" },
          { title: "Balloonist", plan: "enterprise" },
        ],
      },
    });
  });
});

describe("the HTTP contract", () => {
  test("/v1/identify answers Segment's shape; messageId de-duplicates", async () => {
    const msg = { userId: "dup-1", messageId: "m-1", traits: { email: "dup@example.com", firstName: "Once" } };
    const res = await ingest("/v1/identify", msg);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    await ingest("/v1/identify", { ...msg, traits: { email: "dup@example.com", firstName: "Twice" } });
    expect((await userByEmail("dup@example.com")).firstname).toBe("Once");
  });

  test("Content-Type is case-insensitive; without one a JSON body is read as JSON, anything else is 415", async () => {
    const send = (contentType: string | null, body: string) =>
      fetch(api.server.url + "/v1/identify", {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
          ...(contentType ? { "content-type": contentType } : {}),
        },
        body: new Blob([body]), // a Blob of no type: fetch adds no Content-Type of its own
      });
    for (const [contentType, email] of [
      ["Application/JSON; Charset=UTF-8", "upper@example.com"],
      [null, "none@example.com"],
    ] as const) {
      const res = await send(contentType, JSON.stringify({ userId: email, traits: { email } }));
      expect({ contentType, status: res.status, body: await res.json() }).toEqual({
        contentType,
        status: 200,
        body: { success: true },
      });
      expect((await userByEmail(email)).email).toBe(email);
    }
    const garbage = await send(null, "userId=x");
    expect(garbage.status).toBe(415);
    expect((await garbage.json()).error.code).toBe("unsupported_media_type");
    const empty = await send(null, "");
    expect(empty.status).toBe(422);
    expect((await empty.json()).error.code).toBe("validation_failed");
  });

  test("a write key is required; a revoked one stops working", async () => {
    expect((await ingest("/v1/identify", { userId: "x" }, "wk_nope")).status).toBe(401);
    const extra = (await api.call("POST", "/api/v1/write_keys", { name: "temp" })).body;
    expect((await ingest("/v1/identify", { userId: "tmp", traits: {} }, extra.key)).status).toBe(200);
    await api.call("DELETE", `/api/v1/write_keys/${extra.id}`);
    expect((await ingest("/v1/identify", { userId: "tmp" }, extra.key)).status).toBe(401);
  });

  test("limits: 32 KB per call, 500 KB per batch, and a bad message refuses the whole batch", async () => {
    const before = (await api.call("GET", "/api/v1/users?limit=500")).body.data.length;
    const big = await ingest("/v1/identify", { userId: "big", traits: { blob: "x".repeat(33 * 1024) } });
    expect(big.status).toBe(400);
    const batch = Array.from({ length: 20 }, (_, i) => ({
      type: "identify",
      userId: `b${i}`,
      traits: { pad: "y".repeat(26 * 1024) },
    }));
    expect((await ingest("/v1/batch", { batch })).status).toBe(400);
    const mixed = await ingest("/v1/batch", {
      batch: [
        { type: "identify", userId: "ok1", traits: { email: "ok1@example.com" } },
        { type: "identify", traits: { email: "no-id@example.com" } },
      ],
    });
    expect(mixed.status).toBe(422);
    expect((await mixed.json()).error.details[0].field).toBe("batch.1.userId");
    const badEmail = await ingest("/v1/batch", {
      batch: [
        { type: "identify", userId: "ok2" },
        { type: "identify", userId: "e", traits: { email: "nope" } },
      ],
    });
    expect(badEmail.status).toBe(422);
    expect((await badEmail.json()).error.details[0].field).toBe("batch.1.traits.email");
    expect((await api.call("GET", "/api/v1/users?limit=500")).body.data.length).toBe(before);
  });

  test("group links the user to an organization; track updates last seen", async () => {
    await ingest("/v1/identify", { userId: "grp", traits: { email: "grp@example.com" } });
    await ingest("/v1/group", { userId: "grp", groupId: "acme-1", traits: { name: "Acme Rockets" } });
    expect((await userByEmail("grp@example.com")).organization).toBe("Acme Rockets");
    const res = await ingest("/v1/track", { userId: "grp", event: "Signed In", timestamp: "2030-01-01T00:00:00.000Z" });
    expect(res.status).toBe(200);
    expect((await userByEmail("grp@example.com")).last_seen_at).toBe("2030-01-01T00:00:00.000Z");
  });
});

describe("what a write key may change (write keys live in public web pages)", () => {
  const adminRow = async () => userByEmail(ADMIN.email);

  test("identify with userId = an admin's login cannot change their sign-in email; they still sign in", async () => {
    const before = await adminRow();
    const res = await ingest("/v1/identify", {
      userId: ADMIN.email,
      traits: { email: "attacker@evil.example", firstName: "Mallory" },
    });
    expect(res.status).toBe(422);
    const err = (await res.json()).error;
    expect(err.details[0].field).toBe("userId");
    expect(err.message).toContain("administrator or agent");
    expect(await adminRow()).toEqual(before);
    expect(await userByEmail("attacker@evil.example")).toBeUndefined();
    await signIn(api.server, ADMIN.email, ADMIN.password);
  });

  test("identify with traits.email = an admin's email cannot rewrite their names and phone", async () => {
    const before = await adminRow();
    const res = await ingest("/v1/identify", {
      userId: "someone-else",
      traits: { email: ADMIN.email, firstName: "Mallory", phone: "555-0000" },
    });
    expect(res.status).toBe(422);
    expect((await res.json()).error.details[0].field).toBe("traits.email");
    expect(await adminRow()).toEqual(before);
    await signIn(api.server, ADMIN.email, ADMIN.password);
  });

  test("in a batch, the message touching an agent is named and nothing of the batch is written", async () => {
    const agent = (
      await api.call("POST", "/api/v1/users", { email: "agent.smith@example.com", firstname: "Agent", role_ids: [2] })
    ).body;
    const batch = [
      { type: "identify", userId: "fine-1", traits: { email: "fine-1@example.com" } },
      { type: "identify", userId: "x", traits: { email: "agent.smith@example.com", lastName: "Mallory" } },
      { type: "group", userId: "agent.smith@example.com", groupId: "evil-corp" },
    ];
    const res = await ingest("/v1/batch", { batch });
    expect(res.status).toBe(422);
    expect((await res.json()).error.details).toEqual([
      { field: "batch.1.traits.email", message: expect.stringContaining("administrator or agent") },
    ]);
    const group = await ingest("/v1/batch", { batch: [batch[2]] });
    expect((await group.json()).error.details[0].field).toBe("batch.0.userId");
    expect((await api.call("GET", `/api/v1/users/${agent.id}`)).body).toEqual(agent);
    expect(await userByEmail("fine-1@example.com")).toBeUndefined();
  });

  test("track calls for a staff account are skipped, the rest of the batch applies", async () => {
    const before = await adminRow();
    await ingest("/v1/identify", { userId: "tracked", traits: { email: "tracked@example.com" } });
    const res = await ingest("/v1/batch", {
      batch: [
        { type: "track", userId: ADMIN.email, event: "Viewed" },
        { type: "page", userId: "tracked", timestamp: "2031-01-01T00:00:00.000Z" },
      ],
    });
    expect(res.status).toBe(200);
    expect(await adminRow()).toEqual(before);
    expect((await userByEmail("tracked@example.com")).last_seen_at).toBe("2031-01-01T00:00:00.000Z");
  });

  test("an email an admin, the API or an import set is never replaced; one Segment set (or none) may be", async () => {
    await api.call("POST", "/api/v1/users", { login: "api-owned", email: "api-owned@example.com" });
    const res = await ingest("/v1/identify", { userId: "api-owned", traits: { email: "new-owner@example.com" } });
    expect(res.status).toBe(422);
    expect((await res.json()).error.details[0]).toEqual({
      field: "traits.email",
      message: expect.stringContaining("the REST API"),
    });
    expect((await userByEmail("api-owned@example.com")).login).toBe("api-owned");

    await ingest("/v1/identify", { userId: "seg-owned", traits: { email: "seg-owned@example.com" } });
    expect(
      (
        await ingest("/v1/identify", {
          userId: "seg-owned",
          traits: { email: "seg-moved@example.com", firstName: "Moved" },
        })
      ).status,
    ).toBe(200);
    expect(await userByEmail("seg-moved@example.com")).toMatchObject({ login: "seg-owned", firstname: "Moved" });

    await api.call("POST", "/api/v1/users", { login: "no-email" });
    expect(
      (await ingest("/v1/identify", { userId: "no-email", traits: { email: "first-email@example.com" } })).status,
    ).toBe(200);
    expect((await userByEmail("first-email@example.com")).login).toBe("no-email");
  });
});
