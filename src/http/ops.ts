import { Elysia } from "elysia";
import { VERSION } from "../version";
import type { AppContext } from "./context";
import { json } from "./responses";

/** Health and metrics for monitoring; neither needs a sign-in and neither reveals data. */
export function opsRoutes(ctx: AppContext) {
  return new Elysia()
    .get("/healthz", () => {
      try {
        ctx.db.$client.query("SELECT 1").get();
        return json({ status: "ok", version: VERSION, database: "ok" });
      } catch (err) {
        ctx.log.error("health check failed", { error: String(err) });
        return json({ status: "error", version: VERSION, database: "unavailable" }, 503);
      }
    })
    .get("/metrics", () => new Response(ctx.metrics.render(), { headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" } }));
}
