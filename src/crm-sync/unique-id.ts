import { JSONPath } from "jsonpath-plus";

/** Ids that would address something else once put into a URL path (the collection, or its parent). */
const UNUSABLE_IDS = new Set(["", ".", ".."]);

const DOTTED_PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$/;

/**
 * What JSONPath answers for a path of plain names (`$.id`, `$.data.id`, the usual Unique ID Path)
 * through objects, without it (its parse costs more than the rest of a create's bookkeeping).
 * undefined: anything else (the path, an array or a missing name on the way), left to JSONPath.
 */
function dottedPathValue(path: string, json: unknown): unknown {
  if (!DOTTED_PATH.test(path)) return undefined;
  let at = json;
  for (const name of path.slice(2).split(".")) {
    if (at === null || typeof at !== "object" || Array.isArray(at) || !Object.hasOwn(at, name)) return undefined;
    if (name === "__proto__") return undefined;
    at = (at as Record<string, unknown>)[name];
  }
  return at;
}

/**
 * The CRM id in a create response, or why there is none (kept as the link's note). `refused`: the
 * CRM answered an id that cannot address a record; it is not stored and the sync log says so.
 */
export function readExternalId(
  path: string,
  body: string,
): { id: string | null; note: string | null; refused?: boolean } {
  if (!path)
    return {
      id: null,
      note: "no Unique ID Path is set, so updates and deletes cannot be sent to the CRM beyond the initial creation",
    };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { id: null, note: `the create response is not JSON, so the Unique ID Path ${path} found nothing` };
  }
  let found: unknown;
  try {
    found = dottedPathValue(path, json) ?? JSONPath({ path, json: json as object, wrap: false });
  } catch (err) {
    return { id: null, note: `the Unique ID Path ${path} failed: ${(err as Error).message}` };
  }
  if (Array.isArray(found)) found = found[0];
  if (typeof found === "string" && UNUSABLE_IDS.has(found.trim())) {
    return {
      id: null,
      note:
        `the CRM answered the id ${JSON.stringify(found)} at ${path}, ` +
        "which cannot address a record in a URL; it was refused",
      refused: true,
    };
  }
  if (typeof found === "string") return { id: found, note: null };
  if (typeof found === "number" && Number.isFinite(found)) return { id: String(found), note: null };
  return { id: null, note: `the Unique ID Path ${path} found no id in the create response` };
}
