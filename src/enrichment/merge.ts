import type { Provenance } from "../db/schema";
import { isEmpty } from "./mappings";

/**
 * Zammad's merge rule, decided per field from who last wrote it (field provenance):
 * - a field nobody wrote, or one another program left empty, is filled;
 * - a value another source wrote is never overwritten;
 * - a value this provider wrote is updated when the provider's value changes;
 * - a field an admin edited (source "ui") is the admin's from then on, even when they emptied it.
 * Returns the fields to write.
 */
export function mergeProviderValues(current: Record<string, unknown>, provenance: Provenance, proposed: Record<string, unknown>, source: string): Record<string, unknown> {
  const updates: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(proposed)) {
    if (isEmpty(value)) continue;
    const writer = provenance[field]?.source;
    const have = current[field];
    if (writer === source) {
      if (!sameValue(have, value)) updates[field] = value;
    } else if (writer === "ui") {
    } else if (isEmpty(have)) {
      updates[field] = value;
    }
  }
  return updates;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
