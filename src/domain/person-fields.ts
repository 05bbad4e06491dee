import type { DbOrTx } from "../db/client";

/** Extra fields for a page of people at once, by user id (a feature's contribution to a person). */
export type PersonFieldSource = (db: DbOrTx, userIds: number[]) => Promise<Map<number, Record<string, unknown>>>;

/**
 * The fields features add to a person, in one place: the API's user JSON, webhook payloads (which
 * embed that JSON) and CRM template tokens all read them here. Sources are added by the composition
 * root (modules.ts) at start-up.
 */
export class PersonFields {
  private readonly sources: PersonFieldSource[] = [];

  add(source: PersonFieldSource): void {
    this.sources.push(source);
  }

  async of(db: DbOrTx, userIds: number[]): Promise<Map<number, Record<string, unknown>>> {
    const out = new Map<number, Record<string, unknown>>(userIds.map((id) => [id, {}]));
    // Read together (one round trip on PostgreSQL), merged in the sources' order.
    for (const fieldsById of await Promise.all(this.sources.map((source) => source(db, userIds))))
      for (const [id, fields] of fieldsById) if (out.has(id)) Object.assign(out.get(id)!, fields);
    return out;
  }
}
