import { startApi, type Api } from "./api";
import { startFakeClearbit, type FakeClearbit } from "./fake-clearbit";

export type EnrichmentRig = { api: Api; fake: FakeClearbit; close(): Promise<void> };

/**
 * A real server and a fake Clearbit on loopback, the integration enabled and pointed at the fake.
 * With a public base URL, the fake reaches the server's callback through it (as through a reverse proxy).
 */
export async function startEnrichmentRig(
  settings: Record<string, unknown> = {},
  server: { baseUrl?: string } = {},
): Promise<EnrichmentRig> {
  const fake = startFakeClearbit();
  const api = await startApi(server.baseUrl ? { baseUrl: server.baseUrl } : {});
  if (server.baseUrl) fake.routeCallbacks(server.baseUrl, api.server.url);
  const res = await api.call("PUT", "/api/v1/integrations/clearbit", {
    enabled: true,
    api_key: fake.key,
    person_url: fake.url,
    company_url: fake.url,
    stream_url: fake.streamUrl,
    ...settings,
  });
  if (res.status !== 200) throw new Error(`configuring Clearbit failed: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    api,
    fake,
    async close() {
      await api.server.close();
      await fake.stop();
    },
  };
}

/** Polls until `check` returns a truthy value (or fails after `timeoutMs`). */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}
