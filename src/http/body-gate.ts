import { writeKeyStore } from "../domain/credentials";
import { tooLarge, unauthorized } from "../errors";
import { MAX_BATCH_BYTES } from "../ingest/segment";
import { writeKeyOf } from "../ingest/api";
import { tooLargePage } from "./admin/error-page";
import { formPageOf } from "./admin/kept-forms";
import {
  currentSession,
  hasSessionCookie,
  PRE_SESSION_FORMS,
  requireApiToken,
  sessionExpired,
  signInRedirect,
} from "./auth";
import type { AppContext } from "./context";
import { errorResponse, redirect } from "./responses";

/**
 * Decides from the headers alone, before a byte of the body is read, how large the body may be.
 * Without valid credentials a body may cost little: 64 KB (the sign-in and set-up forms), or on /v1/
 * the largest Segment batch (a write key may travel in the body; provider callbacks are signed over it).
 * With them, --body-limit, or --import-limit for CSV imports. A declared length over a limit is
 * answered at once (413, or 401 where only credentials would allow it; on admin pages a page naming the
 * limit, or sign-in when the session ended); a chunked body is counted as it streams and fails with 413
 * when it passes the limit.
 */
export const ANONYMOUS_BODY_LIMIT = 64 * 1024;
/** CSV imports may be far larger than other requests. */
export const IMPORT_PATH = /^\/(api\/v1\/)?(users|organizations|people)\/import$/;

/** The request to handle (its body capped), or the answer when its body is not to be read at all. */
export async function admitBody(ctx: AppContext, request: Request): Promise<Request | Response> {
  if (!request.body) return request;
  const path = new URL(request.url).pathname;
  const ingest = path.startsWith("/v1/");
  const declared = request.headers.get("content-length");
  const size = declared === null ? null : Number(declared);
  const limit = IMPORT_PATH.test(path) ? ctx.config.importLimit : ctx.config.bodyLimit;
  const anonymousLimit = Math.min(ctx.config.bodyLimit, ingest ? MAX_BATCH_BYTES : ANONYMOUS_BODY_LIMIT);
  // Small enough for anyone, or too large for everyone: no need to look the caller up.
  if (size !== null && size <= anonymousLimit) return request;
  // Admin pages answer with a page the admin can read and go back from, not JSON.
  const tooLargeFor = (max: number) =>
    ingest || path.startsWith("/api/")
      ? errorResponse(tooLarge(max))
      : tooLargePage(size ?? max + 1, max, formPageOf(ctx, request));
  if (size !== null && !(size <= limit)) return tooLargeFor(limit);
  const known = await hasCredentials(ctx, request, path);
  if (size === null) return capped(request, known ? limit : anonymousLimit);
  if (known) return request;
  if (ingest || PRE_SESSION_FORMS.has(path)) return tooLargeFor(anonymousLimit);
  if (path.startsWith("/api/"))
    return errorResponse(
      unauthorized(
        `send an API token as Authorization: Bearer <token>; without one a body may not exceed ${anonymousLimit} bytes`,
      ),
    );
  // A session that ended: the body is not read, so nothing of it can be kept; the admin is told so.
  return hasSessionCookie(request)
    ? signInRedirect(request, await sessionExpired(ctx, request, undefined))
    : redirect(request, "/login");
}

async function hasCredentials(ctx: AppContext, request: Request, path: string): Promise<boolean> {
  if (path.startsWith("/v1/")) {
    const key = writeKeyOf(request, undefined);
    return !!key && !!(await writeKeyStore.authenticate(ctx.db, key));
  }
  if (path.startsWith("/api/")) {
    try {
      await requireApiToken(ctx, request);
      return true;
    } catch {
      return false;
    }
  }
  return (await currentSession(ctx, request)) !== null;
}

/** The request with a body that fails with 413 (to whatever reads it) once more than `limit` bytes arrive. */
function capped(request: Request, limit: number): Request {
  let size = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      size += chunk.byteLength;
      if (size > limit) controller.error(tooLarge(limit));
      else controller.enqueue(chunk);
    },
  });
  return new Request(request, { body: request.body!.pipeThrough(counter), duplex: "half" } as RequestInit);
}
