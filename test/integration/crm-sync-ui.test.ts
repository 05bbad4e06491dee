import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";
import { startReceiver, type Receiver } from "../support/receiver";
import { signIn, type Browser } from "../support/server";

let api: Api;
let browser: Browser;
let receiver: Receiver;
beforeAll(async () => {
  receiver = startReceiver(() => ({ status: 201, body: '{"id": "c-1"}' }));
  api = await startApi();
  // startApi set up the first admin; sign in as them.
  browser = await signIn(api.server);
});
afterAll(async () => {
  await api.server.close();
  await receiver.stop();
});

const form = (extra: Record<string, string> = {}) => ({
  name: "UI sync",
  enabled: "1",
  auth_type: "bearer",
  auth_token: "tok-very-secret-123456789",
  unique_id_path: "$.id",
  create_method: "POST",
  create_url: `${receiver.url}/people`,
  create_headers: "",
  create_data: '{"email": "{{ person.email }}", "name": "{{person.name}}"}',
  create_tls_verify: "1",
  create_timeout: "10",
  update_enabled: "1",
  update_method: "PUT",
  update_url: `${receiver.url}/people/{{external_id}}`,
  update_data: '{"name": "{{ user.name }}"}',
  update_tls_verify: "1",
  update_timeout: "10",
  delete_method: "DELETE",
  delete_url: "",
  delete_timeout: "10",
  ...extra,
});

describe("CRM Sync pages", () => {
  test("a broken template shows the field error; a valid one saves; tabs, log, history and retry work", async () => {
    const bad = await browser.submit(
      "/crm-sync/new",
      "/crm-sync",
      form({ create_data: '{"email": "{{ person.email }"}' }),
    );
    expect(bad.status).toBe(422);
    const badPage = await bad.text();
    expect(badPage).toContain('id="create_data-error"><p class="field-error" role="alert">template syntax');
    expect(badPage).toContain("line 1, column");
    expect(badPage).not.toContain("tok-very-secret");
    expect((await api.call("GET", "/api/v1/crm_syncs")).body.data).toHaveLength(0);

    const ok = await browser.submit("/crm-sync/new", "/crm-sync", form());
    expect(ok.status).toBe(303);
    const location = ok.headers.get("location")!;
    const syncId = Number(/\/crm-sync\/(\d+)/.exec(location)![1]);
    const page = await (await browser.get(location)).text();
    expect(page).toContain("Sync &quot;UI sync&quot; created.");
    expect(page).toContain("Create users");
    expect(page).toContain("Update users");
    expect(page).toContain("Delete users");
    expect(page).toContain("Logs");
    expect(page).not.toContain("tok-very-secret");

    const person = await api.call("POST", "/api/v1/users", {
      email: "ui@example.com",
      firstname: "Ui",
      lastname: "Person",
    });
    await receiver.waitFor(1);
    // Saving without a token keeps the saved one.
    const saved = await browser.submit(
      `/crm-sync/${syncId}?tab=update`,
      `/crm-sync/${syncId}`,
      form({ auth_token: "", name: "UI sync 2", tab: "update" }),
    );
    expect(saved.status).toBe(303);
    expect((await api.call("GET", `/api/v1/crm_syncs/${syncId}`)).body).toMatchObject({
      name: "UI sync 2",
      auth: { type: "bearer", secret_set: true },
    });
    await api.call("PATCH", `/api/v1/users/${person.body.id}`, { lastname: "Renamed" });
    await receiver.waitFor(2);
    expect(receiver.requests[1]!.headers.authorization).toBe("Bearer tok-very-secret-123456789");
    expect(receiver.requests[1]!.path).toBe("/people/c-1");

    let logPage = "";
    for (let i = 0; i < 100; i++) {
      logPage = await (await browser.get(`/crm-sync/${syncId}?tab=logs`)).text();
      if ((logPage.match(/<details>/g) ?? []).length >= 2) break;
      await Bun.sleep(50);
    }
    expect(logPage).toContain("PUT " + (receiver.url + "/people/c-1").replaceAll("/", "&#x2F;"));
    expect(logPage).not.toContain("tok-very-secret");
    // Successful calls are green…
    expect(logPage).toMatch(/<span class="badge badge-ok">20\d<\/span>/);
    const history = await (await browser.get(`/crm-sync/${syncId}/users/${person.body.id}`)).text();
    expect(history).toContain("CRM id: <code>c-1</code>");
    // Named, never "Person #2".
    expect(history).toMatch(/<h1>Ui Renamed in /);
    const resync = await browser.submit(
      `/crm-sync/${syncId}/users/${person.body.id}`,
      `/crm-sync/${syncId}/users/${person.body.id}/resync`,
      {},
    );
    expect(resync.status).toBe(303);
    await receiver.waitFor(3);

    // A failed call shows a Retry button that queues it again.
    receiver.answer(() => ({ status: 422, body: "nope" }));
    const p2 = await api.call("POST", "/api/v1/users", { email: "ui2@example.com", firstname: "Ui", lastname: "Two" });
    let failedPage = "";
    for (let i = 0; i < 200; i++) {
      failedPage = await (await browser.get(`/crm-sync/${syncId}?tab=logs&outcome=failed`)).text();
      if (failedPage.includes("/retry")) break;
      await Bun.sleep(50);
    }
    // …failed ones red.
    expect(failedPage).toContain('<span class="badge badge-error">failed</span>');
    expect(failedPage).not.toContain("badge-ok");
    const retryAction = /action="(\/crm-sync\/\d+\/logs\/\d+\/retry)"/.exec(failedPage)![1]!;
    receiver.answer(() => ({ status: 201, body: '{"id": "c-2"}' }));
    const retried = await browser.submit(`/crm-sync/${syncId}?tab=logs`, retryAction, {});
    expect(retried.status).toBe(303);
    for (let i = 0; i < 200; i++) {
      if ((await api.call("GET", `/api/v1/crm_syncs/${syncId}/users/${p2.body.id}`)).body.external_id === "c-2") break;
      await Bun.sleep(50);
    }
    expect((await api.call("GET", `/api/v1/crm_syncs/${syncId}/users/${p2.body.id}`)).body.external_id).toBe("c-2");

    // Preview renders for a chosen person; sync all reports progress.
    const preview = await browser.submit(
      `/crm-sync/${syncId}`,
      `/crm-sync/${syncId}/preview`,
      form({ auth_token: "", preview_user_id: String(person.body.id) }),
    );
    const previewPage = await preview.text();
    // The person is named, in the heading and in the picker that chose them.
    expect(previewPage).toContain("<h2>Preview for Ui Renamed</h2>");
    expect(previewPage).toContain(`<input type="hidden" name="preview_user_id" value="${person.body.id}"`);
    expect(previewPage).toContain("{&quot;email&quot;: &quot;ui@example.com&quot;");
    const all = await browser.submit(`/crm-sync/${syncId}`, `/crm-sync/${syncId}/sync-all`, {});
    expect(all.status).toBe(303);
    const after = await (await browser.get(`/crm-sync/${syncId}`)).text();
    expect(after).toContain('id="bulk-progress"');

    const list = await (await browser.get("/crm-sync")).text();
    expect(list).toContain("UI sync 2");
    const del = await browser.submit(`/crm-sync/${syncId}`, `/crm-sync/${syncId}/delete`, {});
    expect(del.status).toBe(303);
    expect((await api.call("GET", "/api/v1/crm_syncs")).body.data).toHaveLength(0);
  });
});
