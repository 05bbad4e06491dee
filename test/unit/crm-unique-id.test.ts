import { describe, expect, test } from "bun:test";
import { JSONPath } from "jsonpath-plus";
import { readExternalId } from "../../src/crm-sync/unique-id";

/** The id as JSONPath alone finds it (the rule readExternalId's shortcut for plain paths must keep). */
function byJsonPath(path: string, body: string): string | null {
  let found: unknown = JSONPath({ path, json: JSON.parse(body), wrap: false });
  if (Array.isArray(found)) found = found[0];
  if (typeof found === "string" && !["", ".", ".."].includes(found.trim())) return found;
  if (typeof found === "number" && Number.isFinite(found)) return String(found);
  return null;
}

describe("readExternalId", () => {
  const cases: [string, string][] = [
    ["$.id", '{"id": 42}'],
    ["$.id", '{"id": "abc-1"}'],
    ["$.id", '{"id": null}'],
    ["$.id", '{"other": 1}'],
    ["$.id", '{"id": ["first", "second"]}'],
    ["$.id", '{"id": {"nested": 1}}'],
    ["$.id", '{"id": ".."}'],
    ["$.id", "[1, 2]"],
    ["$.id", '"text"'],
    ["$.data.id", '{"data": {"id": 7}}'],
    ["$.data.id", '{"data": [{"id": 7}, {"id": 8}]}'],
    ["$.data.id", '{"data": "flat"}'],
    ["$.data.record_id2", '{"data": {"record_id2": "r2"}}'],
    ["$.length", "[1, 2, 3]"],
    ["$.length", '{"length": 3}'],
    ["$.constructor", "{}"],
    ["$.toString", '{"a": 1}'],
    ["$.__proto__", '{"__proto__": 5}'],
    ["$.items[0].id", '{"items": [{"id": "i0"}]}'],
    ["$..id", '{"a": {"id": 9}}'],
    ["$['id']", '{"id": 11}'],
  ];
  for (const [path, body] of cases)
    test(`${path} in ${body} finds what JSONPath finds`, () => {
      expect(readExternalId(path, body).id).toBe(byJsonPath(path, body));
    });

  test("plain paths read the id; their notes are unchanged", () => {
    expect(readExternalId("$.data.id", '{"data": {"id": 7}}')).toEqual({ id: "7", note: null });
    expect(readExternalId("$.id", '{"id": null}').note).toBe(
      "the Unique ID Path $.id found no id in the create response",
    );
    expect(readExternalId("$.id", '{"id": ""}').refused).toBe(true);
    expect(readExternalId("$.id", "not json").note).toContain("is not JSON");
  });
});
