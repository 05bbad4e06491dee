import { errorBody, type AppError, type ErrorKind } from "../errors";

/** Small builders for the responses routes return; cookies are serialized here, in one place. */
export type Cookie = { name: string; value: string; maxAge?: number; httpOnly?: boolean; secure: boolean };

function serializeCookie(c: Cookie): string {
  const parts = [`${c.name}=${encodeURIComponent(c.value)}`, "Path=/", "SameSite=Lax"];
  if (c.httpOnly !== false) parts.push("HttpOnly");
  if (c.secure) parts.push("Secure");
  if (c.maxAge !== undefined) parts.push(`Max-Age=${c.maxAge}`);
  return parts.join("; ");
}

export function parseCookies(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    try {
      out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // A cookie we cannot decode is one we did not set.
    }
  }
  return out;
}

function withCookies(headers: Headers, cookies: Cookie[] = []): Headers {
  for (const c of cookies) headers.append("Set-Cookie", serializeCookie(c));
  return headers;
}

export function html(body: string, init: { status?: number; cookies?: Cookie[] } = {}): Response {
  const headers = withCookies(
    new Headers({ "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" }),
    init.cookies,
  );
  return new Response(body, { status: init.status ?? 200, headers });
}

/** A redirect after a form post (303). htmx requests get HX-Redirect so the whole page changes, not a fragment. */
export function redirect(request: Request, location: string, cookies: Cookie[] = []): Response {
  const headers = withCookies(new Headers(), cookies);
  if (request.headers.get("HX-Request")) {
    headers.set("HX-Redirect", location);
    return new Response(null, { status: 200, headers });
  }
  headers.set("Location", location);
  return new Response(null, { status: 303, headers });
}

export function json(data: unknown, status = 200): Response {
  return new Response(JSON.stringify(data), { status, headers: { "Content-Type": "application/json; charset=utf-8" } });
}

/** The one place a domain error's kind becomes an HTTP status. */
const STATUS_OF: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  invalid: 422,
  too_many_requests: 429,
};
export const statusOf = (kind: ErrorKind): number => STATUS_OF[kind];

/** A domain error as the API answers it: its kind's status, the error shape, Retry-After when it says when to retry. */
export function errorResponse(err: AppError): Response {
  const retry =
    err.details && typeof err.details === "object" && "retry_after" in err.details
      ? { "Retry-After": String(err.details.retry_after) }
      : undefined;
  return jsonError(statusOf(err.kind), err.code, err.message, err.details, retry);
}

export function jsonError(
  status: number,
  code: string,
  message: string,
  details?: unknown,
  headers?: Record<string, string>,
): Response {
  return new Response(JSON.stringify(errorBody(code, message, details)), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
}

/** An attachment download: the stored bytes, offered as a download so browsers never render them inline. */
export function attachmentResponse(a: { filename: string; contentType: string; data: Buffer; size: number }): Response {
  return new Response(new Uint8Array(a.data), {
    headers: {
      "Content-Type": a.contentType,
      "Content-Length": String(a.size),
      "Content-Disposition": `attachment; filename*=UTF-8''${encodeURIComponent(a.filename)}`,
      "X-Content-Type-Options": "nosniff",
    },
  });
}

export function csvDownload(stream: ReadableStream<Uint8Array>, name: string): Response {
  const stamp = new Date().toISOString().slice(0, 10);
  return new Response(stream, {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${name}-${stamp}.csv"`,
    },
  });
}
