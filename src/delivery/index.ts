/** The delivery engine: durable jobs, HTTP sender, retries, HTTP log. See engine.ts. */
export { DeliveryEngine } from "./engine";
export { httpLogEntryJson, type HttpLogEntry, type HttpLogEntryJson } from "./http-log";
export { parseRetryAfter } from "./retry-policy";
export type { DeliveryHandler, HttpRequestSpec, HttpResult, Job, Outcome } from "./types";
