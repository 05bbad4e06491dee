import { afterAll, beforeAll, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.server.close());

test("a ticket's group and owner must exist; null clears them", async () => {
  const customer = (await api.call("POST", "/api/v1/users", { email: "refs@example.com" })).body;
  const group = (await api.call("POST", "/api/v1/groups", { name: "Refs" })).body;
  const base = { title: "References", customer_id: customer.id };
  const noGroup = await api.call("POST", "/api/v1/tickets", { ...base, group_id: group.id + 1000 });
  expect(noGroup.status).toBe(422);
  expect(JSON.stringify(noGroup.body)).toContain("group_id");
  const noOwner = await api.call("POST", "/api/v1/tickets", { ...base, owner_id: customer.id + 1000 });
  expect(noOwner.status).toBe(422);
  expect(JSON.stringify(noOwner.body)).toContain("owner_id");
  const created = await api.call("POST", "/api/v1/tickets", { ...base, group_id: group.id, owner_id: customer.id });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ group_id: group.id, owner_id: customer.id });
  const cleared = await api.call("PATCH", `/api/v1/tickets/${created.body.id}`, { group_id: null, owner_id: null });
  expect(cleared.body).toMatchObject({ group_id: null, owner_id: null });
});
