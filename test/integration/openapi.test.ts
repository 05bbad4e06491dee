import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let doc: any;
beforeAll(async () => {
  server = await startTestServer();
  const res = await fetch(server.url + "/api/v1/openapi.json");
  expect(res.status).toBe(200);
  doc = await res.json();
});
afterAll(() => server.close());

const METHODS = ["get", "post", "put", "patch", "delete"];
const operations = (d: any) => Object.entries(d.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${path}`));

test("every API route of the app is documented, and nothing else", () => {
  const apiRoutes = server.routes
    .filter((r) => /^\/(api\/)?v1\//.test(r.path) && r.method !== "ALL")
    .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
  expect(apiRoutes.length).toBeGreaterThan(30);
  expect(operations(doc).sort()).toEqual([...new Set(apiRoutes)].sort());
  // Admin pages are not part of the API.
  expect(Object.keys(doc.paths).filter((p) => !/^\/(api\/)?v1\//.test(p))).toEqual([]);
  expect(server.routes.some((r) => r.path === "/login")).toBe(true);
});

test("concrete operations: summaries, path parameters, bodies and security", () => {
  expect(doc.openapi).toBe("3.1.0");
  expect(doc.security).toEqual([{ bearer: [] }]);
  expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });

  const patchUser = doc.paths["/api/v1/users/{id}"].patch;
  expect(patchUser.summary).toBe("Change some fields of a person");
  expect(patchUser.parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string" } }]);
  expect(patchUser.requestBody.content["application/json"].schema).toEqual({ type: "object" });
  expect(patchUser.responses["422"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
  expect(doc.components.schemas.Error.required).toEqual(["error"]);

  const byEmail = doc.paths["/api/v1/users/by-email/{email}"].put;
  expect(byEmail.parameters.map((p: { name: string }) => p.name)).toEqual(["email"]);
  expect(doc.paths["/api/v1/users"].get.parameters).toEqual([]);
  expect(doc.paths["/api/v1/users"].get.requestBody).toBeUndefined();
  expect(doc.paths["/api/v1/users/import"].post.requestBody.content).toEqual({ "text/csv": { schema: { type: "string" } } });

  // Segment calls use the write key; the document itself is open to read.
  expect(doc.paths["/v1/batch"].post.security).toEqual([{ writeKey: [] }]);
  expect(doc.paths["/v1/{type}"].post).toMatchObject({ summary: expect.stringMatching(/^Segment single call/), security: [{ writeKey: [] }], parameters: [{ name: "type", in: "path", required: true }] });
  expect(doc.paths["/api/v1/openapi.json"].get.security).toEqual([]);
  expect(doc.paths["/api/v1/users"].post.security).toBeUndefined(); // the document's bearer default
});

test("every path parameter of every operation is declared, required, in the path", () => {
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const op of Object.values(ops)) {
      expect([path, op.parameters.map((p: { name: string; in: string; required: boolean }) => `${p.in}:${p.name}:${p.required}`)]).toEqual([path, names.map((n) => `path:${n}:true`)]);
      expect(op.responses["200"]).toBeDefined();
    }
  }
});

test("the document is open to read without a token", async () => {
  const res = await fetch(server.url + "/api/v1/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
});
