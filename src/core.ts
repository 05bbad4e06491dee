import type { Config } from "./config";
import type { Db } from "./db/client";
import type { DatabaseHealth } from "./db/health";
import type { DeliveryEngine } from "./delivery/engine";
import type { PersonFields } from "./domain/person-fields";
import type { EventFeed } from "./events/feed";
import type { Logger } from "./log";
import type { Metrics } from "./metrics";
import type { SecretBox } from "./secrets";

/**
 * What every feature shares, built once at start-up (server.ts) and passed down: no globals, no
 * lookups. Nothing here knows about HTTP; the HTTP layer extends it (http/context.ts).
 */
export interface Core {
  config: Config;
  /** The store; its transactions go through the group commit (db/group-commit.ts): many writers, one commit. */
  db: Db;
  events: EventFeed;
  log: Logger;
  secrets: SecretBox;
  metrics: Metrics;
  /** The one queue for everything sent out (webhooks, CRM sync, enrichment). */
  delivery: DeliveryEngine;
  /**
   * The fields features add to a person (clearbit_ traits, audience flags): one
   * source for the API, payloads and CRM tokens.
   */
  personFields: PersonFields;
  /** Write failures and free disk space, for /healthz and /metrics. */
  health: DatabaseHealth;
  startedAt: Date;
  /** This node's name in the cluster (--node-id, or host name and data directory). */
  nodeId: string;
}
