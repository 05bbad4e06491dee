import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";

/** The custom-payload preview says what a template gets wrong: objects rendered as text, names that render nothing. */
let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api?.server.close();
});

describe("custom payload preview warnings", () => {
  test("a token naming an object is flagged with the field that renders its value", async () => {
    const res = await api.call("POST", "/api/v1/webhooks/preview", {
      custom_payload: '{"state": "{{ticket.state}}", "owner": "{{ticket.owner}}", "title": "{{ticket.title}}"}',
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.body).state).toBe("[object Object]");
    expect(res.body.warnings).toEqual([
      '{{ticket.state}} is an object and renders as "[object Object]": use {{ticket.state.name}}',
      '{{ticket.owner}} is an object and renders as "[object Object]": use {{ticket.owner.id}} or {{ticket.owner.login}} or {{ticket.owner.email}}',
    ]);
  });

  test("a token naming nothing is flagged with the closest field; a clean template has no warnings", async () => {
    const typo = await api.call("POST", "/api/v1/webhooks/preview", {
      custom_payload: '{"who": "{{user.emial}}", "t": "{{trigger.name}}"}',
      sample: "user",
    });
    expect(typo.body.warnings).toEqual([
      "{{user.emial}} is not in this sample and renders empty: did you mean {{user.email}}?",
    ]);
    const clean = await api.call("POST", "/api/v1/webhooks/preview", {
      custom_payload:
        '{"state": "{{ticket.state.name}}", "items": [{{#ticket.article_ids}}"{{.}}"{{/ticket.article_ids}}]}',
    });
    expect(clean.status).toBe(200);
    expect(clean.body.warnings).toEqual([]);
    expect(JSON.parse(clean.body.body).state).toBe("open");
  });
});
