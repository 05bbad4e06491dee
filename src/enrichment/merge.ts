import type { Provenance } from "../db/schema";
import { isEmpty } from "./mappings";

/**
 * Zammad's merge rule, decided per field from who last wrote it (field provenance):
 * - a field nobody wrote, or one another program left empty, is filled;
 * - a value another source wrote is never overwritten;
 * - a value this provider wrote is updated when the provider's value changes;
 * - a field an admin edited (source "ui") is the admin's from then on, even when they emptied it.
 * The same rule holds for people and organizations.
 */
export function providerMayWrite(have: unknown, writer: string | undefined, source: string): boolean {
  if (writer === source) return true;
  return writer !== "ui" && isEmpty(have);
}

/** The fields to write under the merge rule (see providerMayWrite). */
export function mergeProviderValues(
  current: Record<string, unknown>,
  provenance: Provenance,
  proposed: Record<string, unknown>,
  source: string,
): Record<string, unknown> {
  const updates: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(proposed)) {
    if (isEmpty(value) || !providerMayWrite(current[field], provenance[field]?.source, source)) continue;
    if (!sameValue(current[field], value)) updates[field] = value;
  }
  return updates;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
