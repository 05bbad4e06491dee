import { Elysia } from "elysia";
import { z } from "zod";
import { writeKeyStore } from "../domain/credentials";
import { AppError, notFound, unauthorized, validate } from "../errors";
import { batchCall, ingest, MAX_BATCH_BYTES, MAX_CALL_BYTES, parseMessages } from "./segment";
import { metaOf, type AppContext } from "../http/context";
import { json } from "../http/responses";
import { loose, op } from "../http/api/operation";
import type { IngestRate } from "./rate";

const SINGLE_CALLS = ["identify", "group", "track", "page", "screen", "alias"] as const;

/** The write key: Segment sends it as the Basic-auth username (password empty), or in the body. */
export function writeKeyOf(request: Request, body: unknown): string | undefined {
  const auth = request.headers.get("authorization") ?? "";
  const basic = /^Basic\s+(\S+)$/i.exec(auth);
  if (basic) return Buffer.from(basic[1]!, "base64").toString("utf8").split(":")[0];
  const inBody = body && typeof body === "object" ? (body as Record<string, unknown>).writeKey : undefined;
  return typeof inBody === "string" ? inBody : undefined;
}

/** Segment answers an oversized call with 400 (not 413), and so do we: clients written for it expect that. */
function tooLarge(limit: number) {
  return new AppError("bad_request", "payload_too_large", `the call exceeds Segment's limit of ${limit / 1024} KB`);
}

const identifies = (messages: { type: string }[]) => messages.filter((m) => m.type === "identify").length;

const success = z.strictObject({ success: z.literal(true) });

/** Segment-compatible ingest: POST /v1/identify, /v1/batch (and the other single calls). */
export function segmentApi(ctx: AppContext, rate: IngestRate) {
  const authenticate = async (request: Request, body: unknown) => {
    const key = writeKeyOf(request, body);
    const found = key ? await writeKeyStore.authenticate(ctx.db, key) : null;
    if (!found) throw unauthorized("send a write key as the Basic-auth username (Settings → Write keys)");
    return { id: found.actorId, source: "identify" as const };
  };

  return new Elysia({ prefix: "/v1" })
    .post(
      "/batch",
      async ({ request, body }) => {
        const actor = await authenticate(request, body);
        if ((metaOf(request).bodyBytes ?? 0) > MAX_BATCH_BYTES) throw tooLarge(MAX_BATCH_BYTES);
        const call = validate(batchCall, body);
        const messages = parseMessages(call.batch);
        await ctx.db.transaction((tx) => ingest(tx, ctx.events, messages, actor, { batch: true }));
        rate.record(identifies(messages));
        return json({ success: true });
      },
      op({
        summary: "Segment batch: up to 500 KB of identify, group, track, page, screen and alias calls",
        body: batchCall,
        response: success,
      }),
    )
    .post(
      "/:type",
      async ({ request, body, params }) => {
        const type = SINGLE_CALLS.find((t) => t === params.type);
        if (!type) throw notFound(`Segment call type "${params.type}"`);
        const actor = await authenticate(request, body);
        if ((metaOf(request).bodyBytes ?? 0) > MAX_CALL_BYTES) throw tooLarge(MAX_CALL_BYTES);
        const messages = parseMessages([body], { type });
        await ctx.db.transaction((tx) => ingest(tx, ctx.events, messages, actor));
        rate.record(identifies(messages));
        return json({ success: true });
      },
      op({
        summary: "Segment single call: identify, group, track, page, screen or alias",
        body: loose({ type: z.string().optional() }),
        response: success,
      }),
    );
}
