import { afterAll, beforeAll, expect, test } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020";
import { startApi, type Api } from "../support/api";
import { startReceiver, type Receiver } from "../support/receiver";

let api: Api;
let receiver: Receiver;
let doc: any;
beforeAll(async () => {
  api = await startApi();
  receiver = startReceiver();
  const res = await fetch(api.server.url + "/api/v1/openapi.json");
  expect(res.status).toBe(200);
  doc = await res.json();
});
afterAll(async () => {
  await receiver.stop();
  await api.server.close();
});

const METHODS = ["get", "post", "put", "patch", "delete"];
const operations = (d: any) =>
  Object.entries(d.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((m) => METHODS.includes(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
const eachOperation = () =>
  Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ path, method, op })),
  );

test("the document is valid OpenAPI 3.1 (checked by a real validator)", async () => {
  const result = await new Validator().validate(doc);
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
});

test("every API route of the app is documented, and nothing else", () => {
  const apiRoutes = api.server.routes
    .filter((r) => /^\/(api\/)?v1\//.test(r.path) && r.method !== "ALL")
    .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
  expect(apiRoutes.length).toBeGreaterThan(30);
  expect(operations(doc).sort()).toEqual([...new Set(apiRoutes)].sort());
  // Admin pages are not part of the API.
  expect(Object.keys(doc.paths).filter((p) => !/^\/(api\/)?v1\//.test(p))).toEqual([]);
  expect(api.server.routes.some((r) => r.path === "/login")).toBe(true);
});

test("every operation declares its answer, and every write its body, from the route's models", () => {
  for (const { path, method, op } of eachOperation()) {
    // A real summary, not the method and path repeated.
    expect([path, method, op.summary]).not.toEqual([path, method, `${method.toUpperCase()} ${path}`]);
    const success = Object.entries(op.responses as Record<string, any>).filter(([status]) => status.startsWith("2"));
    expect([path, method, success.length]).toEqual([path, method, 1]);
    const [status, answer] = success[0]!;
    if (status === "204") expect(answer.content).toBeUndefined();
    else
      expect([path, method, Object.values(answer.content as Record<string, { schema?: unknown }>)[0]?.schema]).toEqual([
        path,
        method,
        expect.any(Object),
      ]);
    if (["post", "put", "patch"].includes(method) && !path.includes("/rotate_secret")) {
      // Writes that take a body say what it is (commands such as enable, redeliver and retry take none).
      if (op.requestBody)
        expect(Object.values(op.requestBody.content as Record<string, { schema?: unknown }>)[0]?.schema).toEqual(
          expect.any(Object),
        );
    }
  }
});

test("concrete operations: parameters, bodies, answers and security", () => {
  expect(doc.openapi).toBe("3.1.0");
  expect(doc.security).toEqual([{ bearer: [] }]);
  expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  expect(doc.components.schemas.Error).toMatchObject({ type: "object", required: ["error"] });

  const patchUser = doc.paths["/api/v1/users/{id}"].patch;
  expect(patchUser.summary).toBe("Change some fields of a person");
  expect(patchUser.parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string" } }]);
  const userBody = patchUser.requestBody.content["application/json"].schema;
  expect(userBody.properties.email).toBeDefined();
  expect(userBody.properties.roles.items.enum).toEqual(["Admin", "Agent", "Customer"]);
  expect(patchUser.responses["200"].content["application/json"].schema.properties.login).toEqual({ type: "string" });
  expect(patchUser.responses["422"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
  expect(doc.paths["/api/v1/users"].post.responses["201"]).toBeDefined();
  expect(doc.paths["/api/v1/users/{id}"].delete.responses["204"]).toEqual({ description: "No content" });

  // Query parameters come from the route's query model, typed as a client sends them.
  const listUsers = doc.paths["/api/v1/users"].get;
  const param = (name: string) => listUsers.parameters.find((p: { name: string }) => p.name === name);
  expect(param("active")).toEqual({
    name: "active",
    in: "query",
    required: false,
    schema: { type: "string", enum: ["true", "false"] },
  });
  expect(param("organization_id")).toMatchObject({ in: "query", schema: { type: "integer" } });
  expect(param("sort").schema.enum).toContain("last_seen_at");
  expect(listUsers.requestBody).toBeUndefined();
  expect(listUsers.responses["200"].content["application/json"].schema.required).toEqual(["data", "next_cursor"]);

  const byEmail = doc.paths["/api/v1/users/by-email/{email}"].put;
  expect(byEmail.parameters.map((p: { name: string }) => p.name)).toEqual(["email"]);
  expect(doc.paths["/api/v1/users/import"].post.requestBody.content).toEqual({
    "text/csv": { schema: { type: "string" } },
  });
  expect(doc.paths["/api/v1/users/import"].post.parameters.map((p: { name: string }) => p.name)).toEqual(["dry_run"]);
  expect(Object.keys(doc.paths["/api/v1/users/export.csv"].get.responses["200"].content)).toEqual(["text/csv"]);

  // Segment calls use the write key; the document itself and the signed callback are open.
  expect(doc.paths["/v1/batch"].post.security).toEqual([{ writeKey: [] }]);
  expect(doc.paths["/v1/{type}"].post).toMatchObject({
    summary: expect.stringMatching(/^Segment single call/),
    security: [{ writeKey: [] }],
    parameters: [{ name: "type", in: "path", required: true }],
  });
  expect(doc.paths["/api/v1/openapi.json"].get.security).toEqual([]);
  expect(doc.paths["/api/v1/users"].post.security).toBeUndefined(); // the document's bearer default
});

test("every path parameter of every operation is declared, required, in the path", () => {
  for (const { path, op } of eachOperation()) {
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    const inPath = op.parameters.filter((p: { in: string }) => p.in === "path");
    expect([path, inPath.map((p: { name: string; required: boolean }) => `${p.name}:${p.required}`)]).toEqual([
      path,
      names.map((n) => `${n}:true`),
    ]);
  }
});

test("real answers match the schemas the document declares for them", async () => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  const schemaOf = (method: string, path: string, status: string) =>
    doc.paths[path][method].responses[status].content["application/json"].schema;
  const resolve = (schema: any) => (schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()] : schema);
  const check = (method: string, path: string, status: string, res: { status: number; body: unknown }) => {
    expect([path, res.status]).toEqual([path, Number(status)]);
    const validate = ajv.compile(resolve(schemaOf(method, path, status)));
    const ok = validate(res.body);
    expect([path, status, ok ? [] : validate.errors]).toEqual([path, status, []]);
  };

  const org = await api.call("POST", "/api/v1/organizations", { name: "Acme", domain: "acme.example" });
  check("post", "/api/v1/organizations", "201", org);
  const user = await api.call("POST", "/api/v1/users", {
    email: "ada@acme.example",
    firstname: "Ada",
    organization_id: org.body.id,
    roles: ["Customer"],
    traits: { plan: "pro" },
  });
  check("post", "/api/v1/users", "201", user);
  check("get", "/api/v1/users/{id}", "200", await api.call("GET", `/api/v1/users/${user.body.id}`));
  const list = await api.call("GET", "/api/v1/users?active=true&limit=1&sort=email");
  expect(list.body.data.length).toBe(1);
  check("get", "/api/v1/users", "200", list);
  check("get", "/api/v1/organizations/{id}", "200", await api.call("GET", `/api/v1/organizations/${org.body.id}`));
  check("get", "/api/v1/organizations", "200", await api.call("GET", "/api/v1/organizations?active=true"));

  const hook = await api.call("POST", "/api/v1/webhooks", {
    name: "schema hook",
    url: receiver.url + "/hook",
    secret_headers: { "X-Api-Key": "s3cret" },
    auth_type: "basic",
    auth_username: "u",
    auth_password: "p",
  });
  check("post", "/api/v1/webhooks", "201", hook);
  check("get", "/api/v1/webhooks/{id}", "200", await api.call("GET", `/api/v1/webhooks/${hook.body.id}`));
  check("get", "/api/v1/webhooks", "200", await api.call("GET", "/api/v1/webhooks"));

  // Errors: a validation failure, a missing record, a bad query value (named, never a 5xx).
  check("post", "/api/v1/users", "422", await api.call("POST", "/api/v1/users", { email: "not an email" }));
  check("get", "/api/v1/users/{id}", "404", await api.call("GET", "/api/v1/users/999999"));
  const badQuery = await api.call("GET", "/api/v1/users?active=yes");
  check("get", "/api/v1/users", "422", badQuery);
  expect(badQuery.body.error.details).toEqual([{ field: "active", message: expect.any(String) }]);
  // A query value the route cannot read is refused, never ignored (a delete without its reassignment).
  const badReassign = await api.call("DELETE", `/api/v1/users/${user.body.id}?reassign_to=someone`);
  check("get", "/api/v1/users/{id}", "422", badReassign);
  expect(badReassign.body.error.details).toEqual([{ field: "reassign_to", message: expect.any(String) }]);
  expect((await api.call("GET", `/api/v1/users/${user.body.id}`)).status).toBe(200);
});

test("the document is open to read without a token", async () => {
  const res = await fetch(api.server.url + "/api/v1/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
});
