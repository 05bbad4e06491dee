import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../support/server";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

test("the OpenAPI document lists every API route, open to read without a token", async () => {
  const res = await fetch(server.url + "/api/v1/openapi.json");
  expect(res.status).toBe(200);
  const doc = await res.json();
  expect(doc.openapi).toBe("3.1.0");
  expect(doc.paths["/api/v1/users/{id}"].patch.summary).toContain("Change some fields");
  expect(doc.paths["/v1/identify"] ?? doc.paths["/v1/{type}"]).toBeDefined();
  expect(doc.paths["/v1/batch"].post.security).toEqual([{ writeKey: [] }]);
  expect(doc.paths["/api/v1/openapi.json"].get.security).toEqual([]);
  expect(Object.keys(doc.paths).length).toBeGreaterThan(30);
});
