import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { createToken, setupAdmin, startTestServer, type Browser, type TestServer } from "../support/server";

/** Mustache escapes "/" and "=" in the page; a browser shows (and copies) the plain text. */
const unescapeHtml = (s: string) => s.replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));

describe("webhook admin pages (without JavaScript)", () => {
  let server: TestServer;
  let browser: Browser;
  let token: string;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = startReceiver(() => ({ status: 202, body: "thanks from the receiver" }));
    server = await startTestServer();
    browser = await setupAdmin(server);
    token = await createToken(browser);
  });
  afterAll(async () => {
    await server.close();
    await receiver.stop();
  });

  const form = {
    name: "CRM listener",
    url: "",
    method: "POST",
    signature_token: "form-token-789",
    auth_type: "bearer",
    auth_username: "",
    auth_password: "bearer-secret-321",
    timeout_seconds: "10",
    max_attempts: "3",
    retry_base_seconds: "5",
    headers: "X-Team: support",
    active: "on",
    tls_verify: "on",
    note: "",
    custom_payload: "",
  };

  test("a webhook, a trigger with a condition; the delivery log shows the receiver's answer; redeliver", async () => {
    const bad = await browser.submit("/webhooks/new", "/webhooks", { ...form, url: "not a url" });
    expect(bad.status).toBe(422);
    const badPage = await bad.text();
    expect(badPage).toContain('id="url-error"><p class="field-error"');
    expect(badPage).not.toContain("bearer-secret-321");

    const created = await browser.submit("/webhooks/new", "/webhooks", { ...form, url: receiver.url + "/crm" });
    expect(created.status).toBe(303);
    const page = await (await browser.follow(created)).text();
    const secret = unescapeHtml(/id="new-secret">(whsec_[^<]+)</.exec(page)?.[1] ?? "");
    expect(secret).toBeTruthy();
    const id = Number(/action="\/webhooks\/(\d+)"/.exec(page)![1]);
    const again = await (await browser.get(`/webhooks/${id}`)).text();
    expect(again).not.toContain(secret!);
    expect(again).not.toContain("form-token-789");
    expect(again).not.toContain("bearer-secret-321");

    const badTrigger = await browser.submit("/triggers/new", "/triggers", {
      name: "VIP customers",
      active: "on",
      match: "all",
      cond_field_0: "user.vip",
      cond_operator_0: "is",
      cond_value_0: "true",
    });
    expect(badTrigger.status).toBe(422);
    expect(await badTrigger.text()).toContain("choose at least one");
    const trig = await browser.submit("/triggers/new", "/triggers", {
      name: "VIP customers",
      active: "on",
      events: "user.created",
      match: "all",
      cond_field_0: "user.vip",
      cond_operator_0: "is",
      cond_value_0: "true",
      cond_field_1: "",
      cond_operator_1: "is",
      cond_value_1: "",
      webhook_ids: String(id),
    });
    expect(trig.status).toBe(303);
    const list = await (await browser.get("/triggers")).text();
    expect(list).toContain("VIP customers");

    const call = (path: string, body: unknown) =>
      fetch(server.url + path, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    await call("/api/v1/users", { email: "nobody@example.com" });
    await call("/api/v1/users", { email: "vip@example.com", vip: true });
    const [req] = await receiver.waitFor(1);
    await Bun.sleep(200);
    expect(receiver.requests).toHaveLength(1);
    expect(JSON.parse(req!.body).user.email).toBe("vip@example.com");
    expect(req!.headers.authorization).toBe("Bearer bearer-secret-321");
    expect(req!.headers["x-team"]).toBe("support");
    expect(new Webhook(secret!).verify(req!.body, req!.headers)).toBeTruthy();

    await eventually(
      async () =>
        (await server.ctx.delivery.listJobs({ destination: `webhook:${id}`, status: "succeeded" })).length === 1,
    );
    const hooks = await (await browser.get("/webhooks")).text();
    expect(hooks).toContain("CRM listener");
    expect(hooks).toContain("202");
    expect(hooks).toContain("100%");
    const log = await (await browser.get(`/webhooks/${id}/deliveries?status=succeeded`)).text();
    const jobId = /href="\/webhooks\/\d+\/deliveries\/(\d+)"/.exec(log)![1];
    const detail = await (await browser.get(`/webhooks/${id}/deliveries/${jobId}`)).text();
    expect(detail).toContain("HTTP 202");
    expect(detail).toContain("thanks from the receiver");
    expect(detail).toContain("vip@example.com");
    expect(detail).not.toContain("bearer-secret-321");
    const redo = await browser.submit(
      `/webhooks/${id}/deliveries/${jobId}`,
      `/webhooks/${id}/deliveries/${jobId}/redeliver`,
      {},
    );
    expect(redo.status).toBe(303);
    await receiver.waitFor(2);
    expect(receiver.requests[1]!.headers["webhook-id"]).toBe(req!.headers["webhook-id"]!);
  });

  test("send test, preview and secret rotation from the edit page", async () => {
    const created = await browser.submit("/webhooks/new", "/webhooks", {
      ...form,
      name: "Tester",
      url: receiver.url + "/test",
      auth_type: "none",
      auth_password: "",
      signature_token: "",
    });
    const id = Number(/^\/webhooks\/(\d+)$/.exec(created.headers.get("location")!)![1]);
    const before = receiver.requests.length;
    const sent = await browser.submit(`/webhooks/${id}`, `/webhooks/${id}/test`, { sample: "user" });
    expect(sent.status).toBe(303);
    const location = sent.headers.get("location")!;
    await receiver.waitFor(before + 1);
    await eventually(
      async () => (await server.ctx.delivery.getJob(Number(location.split("/").pop())))?.status === "succeeded",
    );
    const detail = await (await browser.get(location)).text();
    expect(detail).toContain("HTTP 202");
    expect(detail).toContain("thanks from the receiver");

    const preview = await browser.submit(`/webhooks/${id}`, "/webhooks/preview", {
      ...form,
      webhook_id: String(id),
      custom_payload: '{"who": "{{user.firstname}}"}',
      sample: "user",
    });
    const previewPage = await preview.text();
    expect(previewPage).toContain("&quot;who&quot;: &quot;Emily \\&quot;Em\\&quot;&quot;");
    const broken = await browser.request("/webhooks/preview", {
      method: "POST",
      headers: { "HX-Request": "true", "X-CSRF-Token": /name="_csrf" value="([^"]+)"/.exec(previewPage)![1]! },
      form: { custom_payload: '{"who": {{user.firstname}}}' },
    });
    expect(broken.status).toBe(422);
    expect(await broken.text()).toContain('id="preview-error"');

    const rotated = await browser.submit(`/webhooks/${id}`, `/webhooks/${id}/rotate`, { grace_hours: "24" });
    expect(rotated.status).toBe(303);
    expect(rotated.headers.get("location")).toBe(`/webhooks/${id}`);
    const rotatedPage = await (await browser.follow(rotated)).text();
    expect(rotatedPage).toMatch(/id="new-secret">whsec_/);
    expect(rotatedPage).toContain("The previous secret still signs until");
  });
});
