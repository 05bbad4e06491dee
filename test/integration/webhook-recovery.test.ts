import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";
import { startReceiver, type Receiver } from "../support/receiver";
import { signIn, type Browser } from "../support/server";

/** Recovery and bulk redelivery without JavaScript: refusals in plain words, redirects after every POST. */
let api: Api;
let browser: Browser;
let receiver: Receiver;
let hook: number;
let other: number;

const failedIds = async (id: number): Promise<number[]> =>
  (await api.call("GET", `/api/v1/webhooks/${id}/deliveries?status=failed`)).body.data.map((d: { id: number }) => d.id);

beforeAll(async () => {
  receiver = startReceiver(() => ({ status: 500 }));
  api = await startApi();
  browser = await signIn(api.server);
  hook = (await api.call("POST", "/api/v1/webhooks", { name: "R", url: `${receiver.url}/r`, max_attempts: 1 })).body.id;
  other = (await api.call("POST", "/api/v1/webhooks", { name: "O", url: `${receiver.url}/o`, max_attempts: 1 })).body
    .id;
  for (const id of [hook, hook, other]) await api.call("POST", `/api/v1/webhooks/${id}/test`, {});
  for (let i = 0; i < 200 && (await failedIds(hook)).length + (await failedIds(other)).length < 3; i++)
    await Bun.sleep(50);
}, 30_000);
afterAll(async () => {
  await api.server.close();
  await receiver.stop();
});

describe("recovering failed deliveries", () => {
  test("a time that is not one is refused in plain words, nothing is sent", async () => {
    const before = receiver.requests.length;
    const res = await browser.submit(`/webhooks/${hook}/recover`, `/webhooks/${hook}/recover`, { since: "yesterday" });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain("since: must be a date and time");
    const apiRes = await api.call("POST", `/api/v1/webhooks/${hook}/recover`, { since: "yesterday" });
    expect(apiRes.status).toBe(422);
    expect(apiRes.body.error.details[0].field).toBe("since");
    expect(receiver.requests.length).toBe(before);
  });

  test("bulk redelivery takes only this webhook's deliveries; none chosen says so", async () => {
    const [mine] = await failedIds(hook);
    const [theirs] = await failedIds(other);
    const res = await browser.submit(`/webhooks/${hook}/deliveries`, `/webhooks/${hook}/deliveries/redeliver`, {
      job_ids: String(theirs),
    });
    expect(res.status).toBe(303);
    expect(await (await browser.follow(res)).text()).toContain("0 deliveries queued again");
    const none = await browser.submit(`/webhooks/${hook}/deliveries`, `/webhooks/${hook}/deliveries/redeliver`, {});
    expect(await (await browser.follow(none)).text()).toContain("Select the deliveries to send again.");
    const one = await browser.submit(`/webhooks/${hook}/deliveries`, `/webhooks/${hook}/deliveries/redeliver`, {
      job_ids: String(mine),
      status: "failed",
    });
    expect(one.headers.get("location")).toBe(`/webhooks/${hook}/deliveries?status=failed`);
    expect(await (await browser.follow(one)).text()).toContain("1 delivery queued again");
    const api2 = await api.call("POST", `/api/v1/webhooks/${hook}/deliveries/redeliver`, { ids: [theirs] });
    expect(api2.body).toEqual({ queued: 0 });
  });

  test("confirming a recovery redirects to its progress (a reload sends nothing again)", async () => {
    const since = new Date(Date.now() - 3_600_000).toISOString().slice(0, 16);
    const count = await (await browser.get(`/webhooks/${other}/recover?since=${since}`)).text();
    expect(count).toContain("1 failed delivery");
    const res = await browser.submit(`/webhooks/${other}/recover?since=${since}`, `/webhooks/${other}/recover`, {
      since,
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toMatch(new RegExp(`^/webhooks/${other}/recovery\\?first=\\d+&last=\\d+$`));
    const progress = await (await browser.follow(res)).text();
    expect(progress).toContain('id="recovery-progress"');
    await browser.follow(res);
    const all = (await api.call("GET", `/api/v1/webhooks/${other}/deliveries`)).body.data;
    expect(all).toHaveLength(2);
  });
});
