import type { Metrics } from "../metrics";
import type { DeliveryEngine } from "./engine";

/** Queue depth for /metrics, read at scrape time (each an index count). */
export function registerDeliveryGauges(metrics: Metrics, engine: DeliveryEngine): void {
  metrics.registerGauge(
    "switchboard_delivery_jobs_pending",
    "Delivery jobs waiting to be sent (including retries and held destinations).",
    () => engine.countJobs("pending"),
  );
  metrics.registerGauge("switchboard_delivery_jobs_running", "Delivery jobs being sent now.", () =>
    engine.countJobs("running"),
  );
  metrics.registerGauge(
    "switchboard_delivery_jobs_failed",
    "Delivery jobs that failed for good (kept until pruned).",
    () => engine.countJobs("failed"),
  );
}
