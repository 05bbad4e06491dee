import { createToken, setupAdmin, startTestServer, type TestServer } from "./server";

export type Api = {
  server: TestServer;
  token: string;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
};

/** A real server with a first admin and an API token, and a JSON client for /api/v1. */
export async function startApi(settings: Parameters<typeof startTestServer>[0] = {}): Promise<Api> {
  const server = await startTestServer(settings);
  const token = await createToken(await setupAdmin(server));
  return {
    server,
    token,
    async call(method, path, body) {
      const res = await fetch(server.url + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
  };
}
