import { pathId } from "../params";
import { Elysia } from "elysia";
import { z } from "zod";
import { httpLogEntryJson } from "../../delivery";
import { beforeIdOf, idPageParams, pageOf } from "../../domain/records";
import { notFound, validate } from "../../errors";
import { formatTime } from "../../views";
import { flashCookie, requireApiToken, requireSession } from "../auth";
import type { AppContext } from "../context";
import { json, redirect } from "../responses";
import { httpExchangeView, succeeded } from "./http-exchange";
import { withoutPickerText, type PickerSources } from "./pickers";
import { adminPage } from "./render";
import { list, loose, op } from "../api/operation";

/** Every outgoing HTTP attempt (webhooks, CRM sync, enrichment) in one place, redacted as stored. */
const FACILITIES = ["webhook", "crm-sync", "clearbit"] as const;

const filterSchema = z.strictObject({
  facility: z.string().max(40).optional(),
  destination: z.string().max(200).optional(),
  failed_only: z.enum(["true", "false", "on", ""]).optional(),
  ...idPageParams,
  limit: z.coerce.number().int().min(1).max(500).optional().default(50),
});

function readFilter(query: unknown) {
  const f = validate(filterSchema, query);
  return {
    view: f,
    engine: {
      facility: f.facility || undefined,
      destination: f.destination || undefined,
      failedOnly: f.failed_only === "true" || f.failed_only === "on",
      beforeId: beforeIdOf(f),
    },
    limit: f.limit,
  };
}

/** One page, newest first: one entry more than the limit is read to learn whether another page follows. */
const logPage = async (ctx: AppContext, engine: ReturnType<typeof readFilter>["engine"], limit: number) =>
  pageOf(await ctx.delivery.listHttpLog({ ...engine, limit: limit + 1 }), limit, (last) => [last.id]);

export function logPages(ctx: AppContext, pickers: PickerSources) {
  return new Elysia()
    .get("/logs", async ({ request, query }) => {
      const session = await requireSession(ctx, request);
      const { view, engine, limit } = readFilter(withoutPickerText(query));
      const { data: entries, next_cursor } = await logPage(ctx, engine, limit);
      const destinations = await pickers.destinations.labels([
        ...entries.map((e) => e.destination ?? ""),
        view.destination ?? "",
      ]);
      const rows = entries.map((e) => ({
        id: e.id,
        time: formatTime(e.createdAt),
        facility: e.facility,
        method: e.method,
        url: e.url,
        status: e.responseStatus ?? "—",
        ok: succeeded(e),
        error: e.error,
        duration: e.durationMs,
        attempt: e.attempt,
        destination: e.destination && (destinations.get(e.destination) ?? e.destination),
        destinationKey: e.destination,
      }));
      const older = next_cursor
        ? new URLSearchParams({
            ...(view.facility ? { facility: view.facility } : {}),
            ...(view.destination ? { destination: view.destination } : {}),
            ...(engine.failedOnly ? { failed_only: "true" } : {}),
            cursor: next_cursor,
          }).toString()
        : null;
      const facilities = ["", ...FACILITIES].map((f) => ({
        value: f,
        label: f || "All",
        selected: (view.facility ?? "") === f,
      }));
      return adminPage(
        ctx,
        request,
        session,
        "logs",
        {
          rows,
          facilities,
          destinationPicker: {
            name: "destination",
            id: "destination",
            label: "Destination",
            source: "destinations",
            value: view.destination ?? "",
            pickLabel: view.destination ? (destinations.get(view.destination) ?? view.destination) : "",
            placeholder: "Any destination: search by name",
            invalid: "false",
          },
          failedOnly: engine.failedOnly,
          olderHref: older ? `/logs?${older}` : null,
        },
        { title: "HTTP log", section: "logs" },
      );
    })
    .get("/logs/:id", async ({ request, params }) => {
      const session = await requireSession(ctx, request);
      const e = await ctx.delivery.getHttpLogEntry(pathId(params.id, "log entry"));
      if (!e) throw notFound("log entry");
      const entry = { ...httpLogEntryJson(e), time: formatTime(e.createdAt), exchange: httpExchangeView(e, e.id) };
      return adminPage(ctx, request, session, "log-entry", { entry }, { title: `HTTP log #${e.id}`, section: "logs" });
    })
    .post("/logs/:id/redeliver", async ({ request, params }) => {
      await requireSession(ctx, request);
      const e = await ctx.delivery.getHttpLogEntry(pathId(params.id, "log entry"));
      if (!e?.jobId) throw notFound("log entry with a delivery");
      const again = await ctx.delivery.redeliver(e.jobId);
      const message = again
        ? `Queued again as job ${again.id} (same delivery id ${again.deliveryId}).`
        : "That delivery can no longer be sent again.";
      return redirect(request, `/logs/${e.id}`, [flashCookie(ctx, { kind: again ? "success" : "error", message })]);
    })
    .get(
      "/api/v1/http_log",
      async ({ request, query }) => {
        await requireApiToken(ctx, request);
        const { engine, limit } = readFilter(query);
        const page = await logPage(ctx, engine, limit);
        return json({ data: page.data.map(httpLogEntryJson), next_cursor: page.next_cursor });
      },
      op({
        summary: "The HTTP log of outbound calls, newest first",
        query: filterSchema,
        response: list(loose()).extend({ next_cursor: z.string().nullable() }),
      }),
    )
    .get(
      "/api/v1/http_log/:id",
      async ({ request, params }) => {
        await requireApiToken(ctx, request);
        const e = await ctx.delivery.getHttpLogEntry(pathId(params.id, "log entry"));
        if (!e) throw notFound("log entry");
        return json(httpLogEntryJson(e));
      },
      op({ summary: "One HTTP log entry", response: loose({ id: z.number().int() }) }),
    );
}
