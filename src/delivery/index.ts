/** The delivery engine: durable jobs, HTTP sender, retries, HTTP log. See engine.ts. */
export { DeliveryEngine, DEFAULT_ENGINE_OPTIONS, type EngineOptions } from "./engine";
export type { Destination } from "./destinations";
export {
  httpLogEntryJson,
  pruneHttpLog,
  recordHttpAttempt,
  type HttpLogEntry,
  type HttpLogEntryJson,
  type HttpLogFilter,
  type LogRetention,
} from "./http-log";
export { sendHttp } from "./http-sender";
export type { JobFilter } from "./job-queries";
export { REDACTED } from "./redaction";
export {
  backoffDelay,
  defaultOutcome,
  parseRetryAfter,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETRY_SCHEDULE,
  SLOW_DOWN_MS,
} from "./retry-policy";
export type {
  DeliveryHandler,
  DestinationOptions,
  EnqueueInput,
  HttpRequestSpec,
  HttpResult,
  Job,
  Outcome,
  RetrySchedule,
} from "./types";
