import type { HttpLogEntry } from "../../delivery";
import { formatTime } from "../../views";

/** A body as people read it: JSON indented, anything else as sent. */
function prettyBody(body: string | null): string | null {
  if (!body) return body;
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

const headerList = (h: Record<string, string> | null) =>
  Object.entries(h ?? {}).map(([name, value]) => ({ name, value }));

/** Whether an attempt got a 2xx answer. */
export const succeeded = (e: HttpLogEntry) =>
  !e.error && e.responseStatus !== null && e.responseStatus >= 200 && e.responseStatus < 300;

/**
 * One attempt's request and response for the http-exchange partial (the HTTP-log entry page and a
 * webhook delivery's attempts): headers listed, bodies pretty-printed, element ids from `key` so
 * copy buttons can name what they copy.
 */
export function httpExchangeView(e: HttpLogEntry, key: string | number) {
  return {
    key,
    method: e.method,
    url: e.url,
    at: formatTime(e.createdAt),
    durationMs: e.durationMs,
    ok: succeeded(e),
    responseStatus: e.responseStatus,
    error: e.error,
    deliveryId: e.deliveryId,
    requestHeaders: headerList(e.requestHeaders),
    responseHeaders: headerList(e.responseHeaders),
    requestBody: prettyBody(e.requestBody),
    responseBody: prettyBody(e.responseBody),
    answered: e.responseStatus !== null,
  };
}
