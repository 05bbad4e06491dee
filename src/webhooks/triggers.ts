import { asc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Db, Tx } from "../db/client";
import { notFound, validate, ValidationError } from "../errors";
import type { EventCatalogue } from "./catalogue";
import { TRIGGER_EVENTS } from "./catalogue";
import { conditionSchema } from "./conditions";
import { webhooks, webhookTriggers, webhookTriggerTargets, type Condition } from "./schema";

export type TriggerRow = typeof webhookTriggers.$inferSelect;

const triggerShape = {
  name: z.string().trim().min(1, "is required").max(200, "must be at most 200 characters"),
  active: z.boolean(),
  events: z
    .array(z.enum(TRIGGER_EVENTS, `must be one of: ${TRIGGER_EVENTS.join(", ")}`))
    .min(1, "choose at least one event")
    .max(TRIGGER_EVENTS.length),
  match: z.enum(["all", "any"], "must be all or any"),
  conditions: z.array(conditionSchema).max(50, "at most 50 conditions"),
  webhook_ids: z.array(z.number().int().positive()).min(1, "choose at least one webhook").max(100),
  note: z
    .string()
    .trim()
    .max(5000)
    .transform((v) => v || null)
    .nullish(),
};
export const createSchema = z
  .strictObject(triggerShape)
  .partial()
  .required({ name: true, events: true, webhook_ids: true });
export const updateSchema = z.strictObject(triggerShape).partial();
/** What a preview judges: the unsaved events, match and conditions of a trigger. */
export const previewSchema = z.strictObject({
  events: triggerShape.events,
  match: triggerShape.match.optional().default("all"),
  conditions: triggerShape.conditions.optional().default([]),
});

/** Triggers: name, events, conditions and the webhooks they send to. */
export class WebhookTriggers {
  constructor(
    private readonly db: Db,
    /** In the writing transaction: the routes are read again, here and on every node. */
    private readonly changed: (tx: Tx) => void,
    private readonly catalogue: EventCatalogue,
  ) {}

  async list(): Promise<TriggerRow[]> {
    return await this.db.select().from(webhookTriggers).orderBy(asc(webhookTriggers.name), asc(webhookTriggers.id));
  }

  async get(id: number): Promise<TriggerRow> {
    const row = (await this.db.select().from(webhookTriggers).where(eq(webhookTriggers.id, id)).limit(1))[0];
    if (!row) throw notFound("trigger");
    return row;
  }

  async webhookIds(triggerId: number): Promise<number[]> {
    return (
      await this.db
        .select({ id: webhookTriggerTargets.webhookId })
        .from(webhookTriggerTargets)
        .where(eq(webhookTriggerTargets.triggerId, triggerId))
        .orderBy(asc(webhookTriggerTargets.webhookId))
    ).map((r) => r.id);
  }

  /** Triggers sending to a webhook (shown on its page). */
  async forWebhook(webhookId: number): Promise<TriggerRow[]> {
    return (
      await this.db
        .select({ t: webhookTriggers })
        .from(webhookTriggerTargets)
        .innerJoin(webhookTriggers, eq(webhookTriggers.id, webhookTriggerTargets.triggerId))
        .where(eq(webhookTriggerTargets.webhookId, webhookId))
    ).map((r) => r.t);
  }

  async json(t: TriggerRow) {
    return {
      id: t.id,
      name: t.name,
      active: t.active,
      events: t.events,
      match: t.match,
      conditions: t.conditions,
      webhook_ids: await this.webhookIds(t.id),
      note: t.note,
      created_at: t.createdAt.toISOString(),
      updated_at: t.updatedAt.toISOString(),
    };
  }

  async create(input: unknown, actorId: number | null): Promise<TriggerRow> {
    const d = validate(createSchema, input);
    await this.assertKnownFields(d.events, d.conditions ?? []);
    const row = await this.db.transaction(async (tx) => {
      await this.checkWebhooks(tx, d.webhook_ids);
      const row = (
        await tx
          .insert(webhookTriggers)
          .values({
            name: d.name,
            active: d.active ?? true,
            events: [...new Set(d.events)],
            match: d.match ?? "all",
            conditions: d.conditions ?? [],
            note: d.note ?? null,
            createdById: actorId,
            updatedById: actorId,
          })
          .returning()
      )[0]!;
      await insertTargets(tx, row.id, d.webhook_ids);
      this.changed(tx);
      return row;
    });
    return row;
  }

  async update(id: number, input: unknown, actorId: number | null): Promise<TriggerRow> {
    const d = validate(updateSchema, input);
    if (d.events !== undefined || d.conditions !== undefined) {
      const saved = d.events && d.conditions ? null : await this.get(id);
      await this.assertKnownFields(d.events ?? saved!.events, d.conditions ?? saved!.conditions);
    }
    const row = await this.db.transaction(async (tx) => {
      const set: Partial<TriggerRow> = { updatedAt: new Date(), updatedById: actorId };
      if (d.name !== undefined) set.name = d.name;
      if (d.active !== undefined) set.active = d.active;
      if (d.events !== undefined) set.events = [...new Set(d.events)];
      if (d.match !== undefined) set.match = d.match;
      if (d.conditions !== undefined) set.conditions = d.conditions;
      if (d.note !== undefined) set.note = d.note;
      const row = (await tx.update(webhookTriggers).set(set).where(eq(webhookTriggers.id, id)).returning())[0]!;
      if (!row) throw notFound("trigger");
      if (d.webhook_ids) {
        await this.checkWebhooks(tx, d.webhook_ids);
        await tx.delete(webhookTriggerTargets).where(eq(webhookTriggerTargets.triggerId, id));
        await insertTargets(tx, id, d.webhook_ids);
      }
      this.changed(tx);
      return row;
    });
    return row;
  }

  async delete(id: number): Promise<void> {
    const gone = (
      await this.db.transaction(async (tx) => {
        this.changed(tx);
        return await tx.delete(webhookTriggers).where(eq(webhookTriggers.id, id)).returning({ id: webhookTriggers.id });
      })
    )[0]!;
    if (!gone) throw notFound("trigger");
  }

  /** Refuses condition fields no payload of the trigger's events has (a typo would never fire). */
  async assertKnownFields(events: readonly string[], conditions: readonly Condition[]): Promise<void> {
    const unknown = new Set(
      await this.catalogue.unknownPaths(
        events,
        conditions.map((c) => c.field),
      ),
    );
    if (!unknown.size) return;
    throw new ValidationError(
      conditions.flatMap((c, i) =>
        unknown.has(c.field)
          ? [
              {
                field: `conditions.${i}.field`,
                message: `unknown field ${c.field}: no ${events.join(" or ")} payload has it`,
              },
            ]
          : [],
      ),
    );
  }

  private async checkWebhooks(tx: Pick<Db, "select">, ids: number[]): Promise<void> {
    const unique = [...new Set(ids)];
    const found = (await tx.select({ id: webhooks.id }).from(webhooks).where(inArray(webhooks.id, unique))).length;
    if (found !== unique.length)
      throw new ValidationError([{ field: "webhook_ids", message: "contains an unknown webhook id" }]);
  }
}

/** The webhooks a trigger sends to (each once). */
async function insertTargets(tx: Tx, triggerId: number, webhookIds: number[]): Promise<void> {
  await tx
    .insert(webhookTriggerTargets)
    .values([...new Set(webhookIds)].map((webhookId) => ({ triggerId, webhookId })));
}
