import { afterAll, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { verify as verifyHub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import { startApi, type Api } from "../support/api";
import { eventually, startReceiver, type Receiver } from "../support/receiver";

const HIDDEN = [
  "password",
  "preferences",
  "login_failed",
  "last_login",
  "group_ids",
  "groups",
  "authorization_ids",
  "authorizations",
];

describe("webhooks and triggers through the API", () => {
  let api: Api;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = startReceiver((req) => ({
      status:
        req.path.startsWith("/flaky") && receiver.requests.filter((r) => r.path.startsWith("/flaky")).length === 1
          ? 503
          : 200,
      body: '{"received":true}',
    }));
    api = await startApi();
  });
  afterAll(async () => {
    await api.server.close();
    await receiver.stop();
  });

  const hook = async (path: string, extra: Record<string, unknown> = {}) => {
    const res = await api.call("POST", "/api/v1/webhooks", {
      name: `hook ${path}`,
      url: receiver.url + path,
      retry_base_seconds: 1,
      ...extra,
    });
    expect(res.status).toBe(201);
    return res.body;
  };
  const trigger = async (body: Record<string, unknown>) => {
    const res = await api.call("POST", "/api/v1/triggers", { name: "t", ...body });
    expect(res.status).toBe(201);
    return res.body;
  };
  const at = (path: string) => receiver.requests.filter((r) => r.path === path);

  test("a ticket trigger sends a signed, Zammad-shaped payload; secrets stay masked and out of the log", async () => {
    const w = await hook("/tickets", {
      signature_token: "hub-token-123",
      auth_type: "basic",
      auth_username: "svc",
      auth_password: "basic-pass-456",
      headers: { "X-Env": "test" },
    });
    expect(w.signing_secret).toMatch(/^whsec_/);
    await trigger({
      name: "New tickets",
      events: ["ticket.created"],
      webhook_ids: [w.id],
      conditions: [{ field: "ticket.title", operator: "starts_with", value: "urgent" }],
    });
    const org = (await api.call("POST", "/api/v1/organizations", { name: "Acme" })).body;
    const customer = (
      await api.call("POST", "/api/v1/users", {
        email: "emily@example.com",
        firstname: 'Em "the" \\ Ünal',
        organization_id: org.id,
      })
    ).body;
    await api.call("POST", "/api/v1/tickets", { title: "not this one", customer_id: customer.id });
    const ticket = (
      await api.call("POST", "/api/v1/tickets", {
        title: "Urgent: printer",
        customer_id: customer.id,
        article: {
          body: "help",
          sender: "Customer",
          attachments: [
            { filename: "a.txt", content_type: "text/plain", data: Buffer.from("secret file").toString("base64") },
          ],
        },
      })
    ).body;
    const [req] = await receiver.waitFor(1).then(() => at("/tickets"));
    expect(req!.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(req!.headers["user-agent"]).toMatch(/^Switchboard/);
    expect(req!.headers["x-switchboard-trigger"]).toBe("New tickets");
    expect(req!.headers["x-env"]).toBe("test");
    expect(req!.headers.authorization).toBe(`Basic ${Buffer.from("svc:basic-pass-456").toString("base64")}`);
    const deliveryId = req!.headers["x-switchboard-delivery"]!;
    expect(deliveryId).toMatch(/^[0-9a-f-]{36}$/);
    expect(req!.headers["webhook-id"]).toBe(deliveryId);
    expect(req!.headers["x-hub-signature"]).toMatch(/^sha1=[0-9a-f]{40}$/);
    expect(await verifyHub("hub-token-123", req!.body, req!.headers["x-hub-signature-256"]!)).toBe(true);
    expect(new Webhook(w.signing_secret).verify(req!.body, req!.headers)).toBeTruthy();

    const body = JSON.parse(req!.body);
    expect(body.ticket.id).toBe(ticket.id);
    expect(body.ticket.customer.email).toBe("emily@example.com");
    expect(body.ticket.customer.firstname).toBe('Em "the" \\ Ünal');
    expect(body.ticket.organization.name).toBe("Acme");
    expect(body.ticket.state).toMatchObject({ name: "new" });
    expect(body.ticket.priority).toMatchObject({ name: "2 normal" });
    expect(body.ticket.created_by.login).toBe("admin@example.com");
    for (const k of HIDDEN) {
      expect(body.ticket.customer).not.toHaveProperty(k);
      expect(body.ticket.created_by).not.toHaveProperty(k);
    }
    expect(body.article.attachments[0]).toMatchObject({
      filename: "a.txt",
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/attachments\/\d+$/),
    });
    expect(req!.body).not.toContain(Buffer.from("secret file").toString("base64"));
    expect(body.event.type).toBe("ticket.created");

    const shown = await api.call("GET", `/api/v1/webhooks/${w.id}`);
    expect(JSON.stringify(shown.body)).not.toContain("hub-token-123");
    expect(JSON.stringify(shown.body)).not.toContain("basic-pass-456");
    expect(JSON.stringify(shown.body)).not.toContain(w.signing_secret);
    expect(shown.body.signature_token).toBe("••••••••");
    // The receiver has answered; the outcome is recorded by the engine's next tick.
    const deliveries = () => api.call("GET", `/api/v1/webhooks/${w.id}/deliveries`);
    await eventually(async () => (await deliveries()).body.data[0]?.status === "succeeded", 10_000, "recorded");
    const list = await deliveries();
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({
      delivery_id: deliveryId,
      status: "succeeded",
      trigger_name: "New tickets",
      event_type: "ticket.created",
    });
    const detail = await api.call("GET", `/api/v1/webhooks/${w.id}/deliveries/${list.body.data[0].id}`);
    expect(detail.body.attempt_log[0].response).toMatchObject({ status: 200, body: '{"received":true}' });
    // One HTTP-log entry shape: the delivery's attempt reads the same in the HTTP log.
    const attempt = detail.body.attempt_log[0];
    expect(attempt).toMatchObject({
      facility: "webhook",
      destination: `webhook:${w.id}`,
      delivery_id: deliveryId,
      job_id: list.body.data[0].id,
      attempt: 1,
      request: { method: "POST" },
    });
    expect((await api.call("GET", `/api/v1/http_log/${attempt.id}`)).body).toEqual(attempt);
    expect((await api.call("GET", `/api/v1/http_log?destination=webhook:${w.id}`)).body.data).toContainEqual(attempt);
    const logged = JSON.stringify(detail.body.attempt_log);
    expect(logged).not.toContain("basic-pass-456");
    expect(logged).not.toContain(Buffer.from("svc:basic-pass-456").toString("base64"));
    const health = (await api.call("GET", "/api/v1/webhooks")).body.data.find(
      (x: { id: number }) => x.id === w.id,
    ).health;
    expect(health).toMatchObject({ last_status: 200, success_rate: 1, disabled: false });

    // Redelivery keeps the delivery id.
    const again = await api.call("POST", `/api/v1/webhooks/${w.id}/deliveries/${list.body.data[0].id}/redeliver`);
    expect(again.status).toBe(202);
    await eventually(() => at("/tickets").length === 2);
    expect(at("/tickets")[1]!.headers["x-switchboard-delivery"]).toBe(deliveryId);
  });

  test("retries keep the delivery id; Zammad compatibility names the headers as Zammad does", async () => {
    const w = await hook("/flaky", { zammad_compat: true });
    await trigger({
      name: "Org changes",
      events: ["organization.created", "organization.updated"],
      webhook_ids: [w.id],
    });
    await api.call("POST", "/api/v1/organizations", { name: "Flaky Inc" });
    await eventually(() => at("/flaky").length === 2, 30_000, "a retry");
    const [first, second] = at("/flaky");
    expect(first!.headers["x-zammad-delivery"]).toBe(second!.headers["x-zammad-delivery"]!);
    expect(second!.headers["webhook-id"]).toBe(first!.headers["x-zammad-delivery"]!);
    expect(second!.headers["user-agent"]).toBe("Zammad User Agent");
    expect(second!.headers["x-zammad-trigger"]).toBe("Org changes");
    expect(second!.headers).not.toHaveProperty("x-hub-signature");
    expect(JSON.parse(second!.body).organization.name).toBe("Flaky Inc");
  });

  test("conditions: all/any, is, in, changed to; user events carry the user without hidden fields", async () => {
    const w = await hook("/users");
    await trigger({
      name: "VIPs",
      events: ["user.created", "user.updated"],
      webhook_ids: [w.id],
      match: "all",
      conditions: [
        { field: "user.vip", operator: "changed_to", value: "true" },
        { field: "user.roles", operator: "in", value: ["Customer", "Agent"] },
      ],
    });
    const u = (await api.call("POST", "/api/v1/users", { email: "plain@example.com" })).body;
    await api.call("PATCH", `/api/v1/users/${u.id}`, { note: "no vip change" });
    await api.call("PATCH", `/api/v1/users/${u.id}`, { vip: true, group_ids: [] });
    await eventually(() => at("/users").length === 1);
    await Bun.sleep(300);
    expect(at("/users")).toHaveLength(1);
    const body = JSON.parse(at("/users")[0]!.body);
    expect(body.user).toMatchObject({ email: "plain@example.com", vip: true });
    for (const k of HIDDEN) expect(body.user).not.toHaveProperty(k);
    expect(body.event.changes).not.toHaveProperty("group_ids");
  });

  test("custom payloads escape for JSON and are validated on save with a preview", async () => {
    const bad = await api.call("POST", "/api/v1/webhooks", {
      name: "bad",
      url: receiver.url + "/x",
      custom_payload: '{"t": {{ticket.title}} }',
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe("custom_payload");
    expect(bad.body.error.details[0].message).toMatch(/not valid JSON/);
    expect((await api.call("GET", "/api/v1/webhooks")).body.data.some((x: { name: string }) => x.name === "bad")).toBe(
      false,
    );
    const preview = await api.call("POST", "/api/v1/webhooks/preview", {
      custom_payload: '{"name": "{{user.firstname}} {{user.lastname}}"}',
      sample: "user",
    });
    expect(preview.status).toBe(200);
    expect(JSON.parse(preview.body.body).name).toContain('"Em"');

    const w = await hook("/custom", {
      custom_payload: '{"text": "{{trigger.name}}: {{user.firstname}}\\n{{user.note}}", "id": {{user.id}}}',
    });
    await trigger({ name: 'Say "hi"', events: ["user.created"], webhook_ids: [w.id] });
    await api.call("POST", "/api/v1/users", {
      email: "quote@example.com",
      firstname: 'Zoë "Q" \\ 😀',
      note: "line1\nline2",
    });
    await eventually(() => at("/custom").length === 1);
    const body = JSON.parse(at("/custom")[0]!.body);
    expect(body.text).toBe('Say "hi": Zoë "Q" \\ 😀\nline1\nline2');
    expect(typeof body.id).toBe("number");
  });

  test("secret rotation: both secrets sign during the 24 h grace period, only the new one after it", async () => {
    const w = await hook("/rotate");
    const rotated = await api.call("POST", `/api/v1/webhooks/${w.id}/rotate_secret`, { grace_hours: 24 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.signing_secret).toMatch(/^whsec_/);
    expect(rotated.body.signing_secret).not.toBe(w.signing_secret);
    expect(rotated.body.previous_secret_expires_at).toBeTruthy();
    const test1 = await api.call("POST", `/api/v1/webhooks/${w.id}/test`, { sample: "ticket" });
    expect(test1.status).toBe(202);
    await eventually(() => at("/rotate").length === 1);
    const req = at("/rotate")[0]!;
    expect(req.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(new Webhook(w.signing_secret).verify(req.body, req.headers)).toBeTruthy();
    expect(new Webhook(rotated.body.signing_secret).verify(req.body, req.headers)).toBeTruthy();
    await eventually(async () => (await api.server.ctx.delivery.getJob(test1.body.id))?.status === "succeeded");
    const detail = await api.call("GET", `/api/v1/webhooks/${w.id}/deliveries/${test1.body.id}`);
    expect(detail.body).toMatchObject({
      test: true,
      status: "succeeded",
      attempt_log: [{ response: { status: 200 } }],
    });

    // The grace period is 24 h from the rotation: the clock is moved there instead of waiting (the end
    // is compared with the clock at each send; nothing about the webhook changes when it passes).
    const HOUR = 3_600_000;
    const expiresAt = Date.parse(rotated.body.previous_secret_expires_at);
    expect(expiresAt - Date.now()).toBeGreaterThan(24 * HOUR - 60_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(24 * HOUR);
    const sendTest = async (n: number) => {
      await api.call("POST", `/api/v1/webhooks/${w.id}/test`, {});
      await eventually(() => at("/rotate").length === n);
      return at("/rotate")[n - 1]!;
    };
    try {
      setSystemTime(expiresAt - 60_000); // 23 h 59 min after the rotation: the old secret still signs
      const late = await sendTest(2);
      expect(late.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
      expect(new Webhook(w.signing_secret).verify(late.body, late.headers)).toBeTruthy();
      setSystemTime(expiresAt + 1); // 24 h have passed: only the new secret signs
      const after = await sendTest(3);
      expect(after.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
      expect(new Webhook(rotated.body.signing_secret).verify(after.body, after.headers)).toBeTruthy();
      expect(() => new Webhook(w.signing_secret).verify(after.body, after.headers)).toThrow();
    } finally {
      setSystemTime();
    }

    await api.call("POST", `/api/v1/webhooks/${w.id}/rotate_secret`, { grace_hours: 0 });
    const immediate = await sendTest(4);
    expect(immediate.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
  });

  test("a secret rotated or a URL changed through the API applies to the very next send", async () => {
    const w = await hook("/next");
    const sendTest = async (path: string, n: number) => {
      expect((await api.call("POST", `/api/v1/webhooks/${w.id}/test`, {})).status).toBe(202);
      await eventually(() => at(path).length === n);
      return at(path)[n - 1]!;
    };
    // The first send reads the webhook and keeps it.
    const first = await sendTest("/next", 1);
    expect(new Webhook(w.signing_secret).verify(first.body, first.headers)).toBeTruthy();
    const rotated = await api.call("POST", `/api/v1/webhooks/${w.id}/rotate_secret`, { grace_hours: 0 });
    expect(rotated.status).toBe(200);
    const second = await sendTest("/next", 2);
    expect(second.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    expect(new Webhook(rotated.body.signing_secret).verify(second.body, second.headers)).toBeTruthy();
    expect(() => new Webhook(w.signing_secret).verify(second.body, second.headers)).toThrow();
    const moved = await api.call("PATCH", `/api/v1/webhooks/${w.id}`, {
      url: `${receiver.url}/next-moved`,
      headers: { "X-Moved": "yes" },
    });
    expect(moved.status).toBe(200);
    const third = await sendTest("/next-moved", 1);
    expect(third.headers["x-moved"]).toBe("yes");
    expect(at("/next")).toHaveLength(2);
  });

  test("a delivery queued before its webhook is switched off or deleted is not sent", async () => {
    const w = await hook("/held");
    await trigger({ name: "held", events: ["organization.created"], webhook_ids: [w.id] });
    const destination = `webhook:${w.id}`;
    const createOrg = async (name: string) =>
      expect((await api.call("POST", "/api/v1/organizations", { name })).status).toBe(201);
    const newestJob = async () => (await api.call("GET", `/api/v1/webhooks/${w.id}/deliveries`)).body.data[0].id;
    // A first send reads the webhook and keeps it.
    await createOrg("Held 1");
    await eventually(() => at("/held").length === 1);
    const changes = {
      "switched off": () => api.call("PATCH", `/api/v1/webhooks/${w.id}`, { active: false }),
      deleted: () => api.call("DELETE", `/api/v1/webhooks/${w.id}`),
    };
    for (const [what, change] of Object.entries(changes)) {
      await api.server.ctx.delivery.pauseDestination(destination, null, "held by the test");
      await createOrg(`Held, then ${what}`);
      const job = await newestJob();
      expect((await change()).status).toBeLessThan(300);
      await api.server.ctx.delivery.enableDestination(destination);
      await eventually(async () => (await api.server.ctx.delivery.getJob(job))?.status === "succeeded");
      expect((await api.server.ctx.delivery.listHttpLog({ jobId: job, limit: 10 })).length).toBe(0);
      if ((await api.call("GET", `/api/v1/webhooks/${w.id}`)).status === 200)
        expect((await api.call("PATCH", `/api/v1/webhooks/${w.id}`, { active: true })).status).toBe(200);
    }
    expect(at("/held")).toHaveLength(1);
  });

  test("bad input is refused with the field named and nothing written", async () => {
    const before = (await api.call("GET", "/api/v1/webhooks")).body.data.length;
    const cases: [unknown, string][] = [
      [{ name: "x", url: "ftp://host/x" }, "url"],
      [{ name: "x", url: "http://h/x", method: "GET" }, "method"],
      [{ name: "x", url: "http://h/x", auth_type: "basic", auth_username: "u" }, "auth_password"],
      [{ name: "x", url: "http://h/x", headers: { "X-Hub-Signature": "forged" } }, "headers.X-Hub-Signature"],
      [{ name: "x", url: "http://h/x", timeout_seconds: 0 }, "timeout_seconds"],
      [{ url: "http://h/x" }, "name"],
      [{ name: "x", url: "http://h/x", bogus: 1 }, "bogus"],
    ];
    for (const [input, field] of cases) {
      const res = await api.call("POST", "/api/v1/webhooks", input);
      expect(res.status).toBe(422);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    expect((await api.call("GET", "/api/v1/webhooks")).body.data.length).toBe(before);
    const t1 = await api.call("POST", "/api/v1/triggers", { name: "t", events: ["ticket.exploded"], webhook_ids: [1] });
    expect(t1.body.error.details[0].field).toBe("events.0");
    const t2 = await api.call("POST", "/api/v1/triggers", {
      name: "t",
      events: ["ticket.created"],
      webhook_ids: [9999],
    });
    expect(t2.body.error.details[0].field).toBe("webhook_ids");
    const t3 = await api.call("POST", "/api/v1/triggers", {
      name: "t",
      events: ["ticket.created"],
      webhook_ids: [1],
      conditions: [{ field: "ticket.state", operator: "is" }],
    });
    expect(t3.body.error.details[0].field).toBe("conditions.0.value");
    expect((await api.call("GET", "/api/v1/webhooks/999")).status).toBe(404);
  });
});
