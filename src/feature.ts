import type { AnyElysia } from "elysia";
import type { DeliveryHandler } from "./delivery/types";
import type { PersonFieldSource } from "./domain/person-fields";
import type { ChangeEvent } from "./events/feed";
import type { Tx } from "./db/client";

/** A recurring task (cron pattern with seconds, as @elysiajs/cron takes it); errors are logged, never fatal. */
export type Schedule = { name: string; pattern: string; run: () => unknown };

/** A delivery destination ("webhook:3") with the name admins know it by and the page that owns it. */
export type NamedDestination = { key: string; name: string; href: string };

/**
 * What a feature module declares; the composition root (features.ts) registers all of it, in one
 * place and in an explicit order. A module never registers itself and is never found by lookup:
 * whoever needs its service is handed it by the root.
 */
export interface Feature {
  readonly name: string;
  /** Delivery job kinds this feature sends, with the handler that builds and judges each send. */
  deliveryHandlers?: Record<string, DeliveryHandler>;
  /** Change-feed consumers, called inside the transaction that records each change (enqueue jobs here). */
  consumers?: ((tx: Tx, event: ChangeEvent) => Promise<void>)[];
  /** Fields this feature adds to a person: the API, webhook payloads and CRM tokens all see them. */
  personFields?: PersonFieldSource[];
  schedules?: Schedule[];
  /** The delivery destinations it sends to, named: pickers, the HTTP log and the dashboard show names, not keys. */
  destinations?(): Promise<NamedDestination[]>;
  /** Its API routes and admin pages. */
  routes?: AnyElysia[];
  /** At shutdown, before the delivery engine drains. */
  stop?(): void;
}
