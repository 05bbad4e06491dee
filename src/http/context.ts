import type { Config } from "../config";
import type { Db } from "../db/client";
import type { GroupCommit } from "../db/group-commit";
import type { DatabaseHealth } from "../db/health";
import type { DeliveryEngine } from "../delivery/engine";
import type { EventFeed } from "../events/feed";
import type { Logger } from "../log";
import type { SecretBox } from "../secrets";
import type { LoginThrottle } from "./login-throttle";
import type { Metrics } from "./metrics";

/** What every route module needs, built once at start-up and passed down (no globals). */
export interface AppContext {
  config: Config;
  db: Db;
  events: EventFeed;
  /** Group commit for high-rate writes (ingest): many requests, one transaction. */
  writes: GroupCommit;
  log: Logger;
  secrets: SecretBox;
  metrics: Metrics;
  /** The one queue for everything sent out (webhooks, CRM sync, enrichment). */
  delivery: DeliveryEngine;
  loginThrottle: LoginThrottle;
  /** Write failures and free disk space, for /healthz and /metrics. */
  health: DatabaseHealth;
  startedAt: Date;
}

/** Per-request facts the server wrapper knows and routes read (client address, request id, matched route). */
export type RequestMeta = { id: string; ip: string; route: string; bodyBytes?: number };
export const requestMeta = new WeakMap<Request, RequestMeta>();

export function metaOf(request: Request): RequestMeta {
  return requestMeta.get(request) ?? { id: "-", ip: "unknown", route: "" };
}
