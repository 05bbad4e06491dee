import type { Browser } from "./server";

/** A small REST client for seeding data as a program would (Bearer token). */
export function apiClient(base: string, token: string) {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : null) as any;
  };
  return {
    get: (path: string) => call("GET", path),
    post: (path: string, body: unknown) => call("POST", path, body),
    patch: (path: string, body: unknown) => call("PATCH", path, body),
    delete: (path: string) => call("DELETE", path),
  };
}

/** Mustache escapes / and = in attributes; tests compare the page as a browser reads it. */
export function decodeEntities(html: string): string {
  return html
    .replace(/&#x2F;/g, "/")
    .replace(/&#x3D;/g, "=")
    .replace(/&#x60;/g, "`")
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");
}

/** A page's HTML, entities decoded, after checking the status. */
export async function pageText(browser: Browser, path: string, status = 200): Promise<string> {
  const res = await browser.get(path);
  if (res.status !== status) throw new Error(`GET ${path} → ${res.status}, expected ${status}`);
  return decodeEntities(await res.text());
}

/** Headers of an htmx request swapping into the element with this id (htmx 4 sends tag#id). */
export const htmxHeaders = (target: string, csrf?: string): Record<string, string> => ({
  "HX-Request": "true",
  "HX-Target": target,
  ...(csrf ? { "X-CSRF-Token": csrf } : {}),
});
