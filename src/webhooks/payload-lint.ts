import { valueAtPath } from "../conditions";
import { insertedNames } from "../templates";

type Json = Record<string, unknown>;

/** The dotted paths of a sample's values (not its objects), for suggestions. */
function leafPaths(data: unknown, prefix = ""): string[] {
  if (!data || typeof data !== "object" || Array.isArray(data)) return prefix ? [prefix] : [];
  return Object.entries(data).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

/** Edit distance, for "did you mean" (short paths: the quadratic table is small). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** The value an object stands for in text: its name, else its first plain values. */
function suggestionsFor(path: string, value: Json): string[] {
  if ("name" in value) return [`${path}.name`];
  return Object.entries(value)
    .filter(([, v]) => v === null || typeof v !== "object")
    .slice(0, 3)
    .map(([k]) => `${path}.${k}`);
}

/**
 * What a custom payload would get wrong with this sample, in words: a token naming an object renders
 * "[object Object]" (suggesting the field that renders its value), a token naming nothing renders
 * empty (suggesting the closest field the sample has).
 */
export function templateWarnings(template: string, sample: Json): string[] {
  const leaves = leafPaths(sample);
  return insertedNames(template).flatMap((name) => {
    const value = valueAtPath(sample, name);
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const use = suggestionsFor(name, value as Json).map((p) => `{{${p}}}`);
      return [
        `{{${name}}} is an object and renders as "[object Object]"${use.length ? `: use ${use.join(" or ")}` : ""}`,
      ];
    }
    if (value !== undefined || name === ".") return [];
    const closest = leaves
      .map((p) => ({ p, d: distance(p, name) }))
      .filter((c) => c.d <= Math.max(2, Math.floor(name.length / 5)))
      .sort((a, b) => a.d - b.d)[0];
    return [`{{${name}}} is not in this sample and renders empty${closest ? `: did you mean {{${closest.p}}}?` : ""}`];
  });
}
