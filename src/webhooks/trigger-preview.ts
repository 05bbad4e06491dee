import type { EventFeed } from "../events/feed";
import { validate } from "../errors";
import { conditionsHold } from "./conditions";
import type { PayloadBuilder } from "./payloads";
import { previewSchema, type WebhookTriggers } from "./triggers";

/** How many recent events a preview judges, and how many of the matches it lists. */
export const PREVIEW_EVENTS = 100;
const LISTED = 5;

export type TriggerPreview = {
  considered: number;
  matched: number;
  examples: { event_id: number; type: string; object_type: string; object_id: number; created_at: string }[];
};

/**
 * Which of the last events of the chosen types a trigger (as typed, not yet saved) would have sent:
 * the same payloads and condition code as the matcher, over the records as they are now.
 */
export async function previewTrigger(
  deps: { events: EventFeed; triggers: WebhookTriggers; payloads: () => PayloadBuilder },
  input: unknown,
): Promise<TriggerPreview> {
  const d = validate(previewSchema, input);
  await deps.triggers.assertKnownFields(d.events, d.conditions);
  const recent = await deps.events.latest(d.events, PREVIEW_EVENTS);
  const builder = deps.payloads();
  const matches = [];
  for (const e of recent) if (conditionsHold(d.match, d.conditions, await builder.forEvent(e), e)) matches.push(e);
  return {
    considered: recent.length,
    matched: matches.length,
    examples: matches.slice(0, LISTED).map((e) => ({
      event_id: e.id,
      type: e.type,
      object_type: e.objectType,
      object_id: e.objectId,
      created_at: e.createdAt.toISOString(),
    })),
  };
}
