import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { ValidationError, validate } from "../../src/errors";

const messages = (schema: z.ZodType, input: unknown) => {
  try {
    validate(schema, input);
    return {};
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return Object.fromEntries(err.issues.map((i) => [i.field, i.message]));
  }
};

describe("validation messages in plain words", () => {
  test("types, sizes, formats and options", () => {
    const schema = z.object({
      n: z.number(),
      whole: z.number().int(),
      min: z.number().min(1),
      max: z.number().max(10),
      text: z.string().min(1),
      short: z.string().max(3),
      email: z.email(),
      url: z.url(),
      when: z.iso.datetime(),
      pick: z.enum(["a", "b"]),
      flag: z.boolean(),
      list: z.array(z.string()).min(1),
      missing: z.string(),
      coerced: z.coerce.number(),
    });
    expect(
      messages(schema, {
        n: "3",
        whole: 1.5,
        min: 0,
        max: 11,
        text: "",
        short: "long",
        email: "nope",
        url: "nope",
        when: "tomorrow",
        pick: "c",
        flag: "yes",
        list: [],
        coerced: "abc",
      }),
    ).toEqual({
      n: "must be a number",
      whole: "must be a whole number",
      min: "must be at least 1",
      max: "must be at most 10",
      text: "must not be empty",
      short: "must be at most 3 characters",
      email: "must be an email address",
      url: "must be a web address (http:// or https://)",
      when: "must be a date and time, such as 2026-01-31T09:30:00Z",
      pick: "must be one of: a, b",
      flag: "must be true or false",
      list: "must have at least one item",
      missing: "is required",
      coerced: "must be a number",
    });
  });

  test("a schema's own message still wins", () => {
    expect(messages(z.object({ age: z.number("age in years, please") }), { age: "x" })).toEqual({
      age: "age in years, please",
    });
  });
});
