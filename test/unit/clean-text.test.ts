import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { unstorableText } from "../../src/clean-text";
import { validate, ValidationError } from "../../src/errors";

describe("text the appliance never stores", () => {
  test("NUL and lone surrogates are named by their path, in strings and in keys, at any depth", () => {
    const input = {
      ok: "fine 😀",
      a: "x\0y",
      nested: { list: ["good", "\ud800"], "k\udc00": 1 },
      deep: JSON.parse('{"x":'.repeat(3000) + '"\\u0000"' + "}".repeat(3000)),
    };
    const fields = unstorableText(input).map((i) => i.field);
    expect(fields.slice(0, 3)).toEqual(["a", "nested.list.1", "nested.k\udc00"]);
    expect(fields[3]).toBe(["deep", ...Array(3000).fill("x")].join("."));
    expect(unstorableText({ a: "x\0" })[0]!.message).toContain("NUL");
    expect(unstorableText("\udfff")[0]!.message).toContain("unpaired surrogates");
    expect(unstorableText({ x: "\0" }, ["batch", 3])[0]!.field).toBe("batch.3.x");
    const veryDeep = JSON.parse('{"x":'.repeat(200_000) + '"ok"' + "}".repeat(200_000));
    expect(unstorableText(veryDeep)).toEqual([]);
  });

  test("well-formed text passes: pairs, U+FFFD, other control characters", () => {
    expect(unstorableText({ a: "😀 \ufffd \t\n\u0001", b: ["\ud83d\ude00"], c: 1, d: null, e: true })).toEqual([]);
  });

  test("validate() refuses them before the schema runs, naming the field", () => {
    const schema = z.object({ name: z.string(), traits: z.record(z.string(), z.unknown()) });
    let err: unknown;
    try {
      validate(schema, { name: "ok", traits: { bio: "a\0b" } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).kind).toBe("invalid");
    expect((err as ValidationError).issues).toEqual([
      { field: "traits.bio", message: "must not contain NUL characters (U+0000)" },
    ]);
  });
});
