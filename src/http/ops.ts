import { Elysia } from "elysia";
import type { DatabaseHealth } from "../db/health";
import { VERSION } from "../version";
import type { AppContext } from "./context";
import type { Metrics } from "../metrics";
import { json } from "./responses";

/** Health and metrics for monitoring; neither needs a sign-in and neither reveals data. */
export function opsRoutes(ctx: AppContext) {
  return new Elysia()
    .get("/healthz", async () => {
      const { ok, store, checks } = await ctx.health.check();
      if (!ok) ctx.log.error("health check failed", { checks });
      return json(
        {
          status: ok ? "ok" : "error",
          version: VERSION,
          node: ctx.nodeId,
          database: checks.database,
          database_kind: store.kind,
          store,
          checks,
        },
        ok ? 200 : 503,
      );
    })
    .get(
      "/metrics",
      async () =>
        new Response(await ctx.metrics.render(), {
          headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
        }),
    );
}

export function registerHealthMetrics(metrics: Metrics, health: DatabaseHealth): void {
  metrics.registerGauge(
    "switchboard_data_dir_free_bytes",
    "Free bytes on the file system of the data directory.",
    () => health.freeBytes() ?? -1,
  );
  metrics.registerCounter(
    "switchboard_database_write_failures_total",
    "Database writes that failed for the storage's sake (disk full, I/O error, read-only).",
    () => health.writeFailures,
  );
}
