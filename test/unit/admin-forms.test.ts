import { describe, expect, test } from "bun:test";
import { customFieldSpecs, fieldViews, formView, parseForm, type FieldSpec } from "../../src/http/admin/forms";
import { ValidationError } from "../../src/errors";

const specs: FieldSpec[] = [
  { name: "firstname", label: "First name", kind: "text" },
  { name: "login", label: "Login", kind: "text", empty: "omit" },
  { name: "age", label: "Age", kind: "number" },
  { name: "vip", label: "VIP", kind: "checkbox" },
  { name: "owner_id", label: "Owner", kind: "select", numeric: true, options: [{ value: "3", label: "Ann" }] },
  { name: "tier", label: "Tier", kind: "select", options: ["gold", "silver"] },
  { name: "user_ids", label: "Members", kind: "ids" },
  { name: "options", label: "Options", kind: "lines" },
  { name: "org", label: "Org", kind: "id" },
];

describe("parseForm", () => {
  test("converts form strings to the domain's types", () => {
    expect(
      parseForm(
        {
          firstname: "Ann",
          login: "ann",
          age: "42.5",
          vip: "true",
          owner_id: "3",
          tier: "gold",
          user_ids: "1, 2 2,3",
          options: "a\r\n\n b \n",
          org: "7",
          _csrf: "x",
        },
        specs,
      ),
    ).toEqual({
      firstname: "Ann",
      login: "ann",
      age: 42.5,
      vip: true,
      owner_id: 3,
      tier: "gold",
      user_ids: [1, 2, 3],
      options: ["a", "b"],
      org: 7,
    });
  });

  test('"" clears (null) unless the field says omit; an unchecked box is false; absent fields stay absent', () => {
    expect(
      parseForm(
        { firstname: "", login: " ", age: "", owner_id: "", tier: "", user_ids: "", options: "", org: "" },
        specs,
      ),
    ).toEqual({
      firstname: null,
      age: null,
      vip: false,
      owner_id: null,
      tier: null,
      user_ids: [],
      options: [],
      org: null,
    });
    expect(parseForm({}, specs)).toEqual({ vip: false });
  });

  test("a value that cannot be converted is a ValidationError naming each field", () => {
    try {
      parseForm({ age: "forty", user_ids: "1,x", org: "-1" }, specs);
      throw new Error("no error");
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues.map((i) => i.field)).toEqual(["age", "user_ids", "org"]);
    }
  });

  test("a required text stays empty, so the domain says it is required", () => {
    expect(parseForm({ name: " " }, [{ name: "name", label: "Name", kind: "text", required: true }])).toEqual({
      name: "",
    });
  });

  test("of repeated values the last one counts", () => {
    expect(parseForm({ firstname: ["a", "b"] }, specs).firstname).toBe("b");
  });
});

describe("fieldViews and formView", () => {
  test("inputs carry value, error, aria wiring and the input type of each custom field type", () => {
    const custom = customFieldSpecs([
      { name: "tier", label: "Tier", type: "select", options: ["gold"], required: true },
      { name: "since", label: "Since", type: "date", options: [], required: false },
      { name: "seats", label: "Seats", type: "number", options: [], required: false },
      { name: "churned", label: "Churned", type: "boolean", options: [], required: false },
    ] as never);
    const views = fieldViews(
      custom,
      { tier: "gold", since: "2024-01-02", seats: 3, churned: true },
      { seats: "must be a number" },
    );
    expect(views.map((v) => [v.isSelect, v.inputType, v.value])).toEqual([
      [true, "text", "gold"],
      [false, "date", "2024-01-02"],
      [false, "number", "3"],
      [false, "text", "true"],
    ]);
    expect(views[0]!.choices).toEqual([{ value: "gold", label: "gold", selected: true }]);
    expect(views[3]!.isCheckbox && views[3]!.checked).toBe(true);
    expect(views[2]).toMatchObject({ error: "must be a number", invalid: "true", describedBy: "f-seats-error" });
    expect(views[1]).toMatchObject({ error: null, invalid: "false" });
  });

  test("the first invalid input gets focus; errors no input shows are listed", () => {
    const form = formView({
      action: "/x",
      submitLabel: "Save",
      specs: specs.slice(0, 3),
      values: {},
      errors: { age: "bad", firstname: "worse", roles: "unknown" },
    });
    expect(form.fields.filter((f) => f.autofocus).map((f) => f.name)).toEqual(["firstname"]);
    expect(form.otherErrors).toEqual(["roles: unknown"]);
  });
});
