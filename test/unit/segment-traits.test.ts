import { describe, expect, test } from "bun:test";
import { mapTraits } from "../../src/ingest/segment";

describe("Segment identify traits → person fields", () => {
  test("well-known traits become fields (trimmed); the rest stay traits", () => {
    const r = mapTraits({
      email: " ada@example.com ",
      firstName: "Ada",
      lastName: "Lovelace",
      phone: "+44 1",
      website: "https://ada.dev",
      avatar: "https://a.png",
      plan: "pro",
      logins: 3,
    });
    expect(r.fields).toEqual({
      email: "ada@example.com",
      firstname: "Ada",
      lastname: "Lovelace",
      phone: "+44 1",
      web: "https://ada.dev",
      image: "https://a.png",
    });
    expect(r.rest).toEqual({ plan: "pro", logins: 3 });
    expect(r.company).toBeUndefined();
  });

  test("snake_case and lowercase spellings are read too; the first non-empty one wins and all are consumed", () => {
    const r = mapTraits({ firstName: "  ", first_name: "Ada", firstname: "Other", last_name: "L", web: "https://w" });
    expect(r.fields).toEqual({ firstname: "Ada", lastname: "L", web: "https://w" });
    expect(r.rest).toEqual({});
  });

  test("name splits into first and last only when neither is given", () => {
    expect(mapTraits({ name: "Ada King Lovelace" }).fields).toEqual({ firstname: "Ada", lastname: "King Lovelace" });
    expect(mapTraits({ name: "Ada" }).fields).toEqual({ firstname: "Ada" });
    expect(mapTraits({ name: "Ada Lovelace", lastName: "Byron" }).fields).toEqual({ lastname: "Byron" });
    expect(mapTraits({ name: "Ada Lovelace" }).rest).toEqual({});
  });

  test("a number is taken as text; other types and blanks are dropped, not stored as fields", () => {
    expect(mapTraits({ phone: 4930123 }).fields).toEqual({ phone: "4930123" });
    const r = mapTraits({ email: { nested: true }, phone: "   ", firstName: true });
    expect(r.fields).toEqual({});
  });

  test("an address object becomes lines: street, postal code and city, state, country", () => {
    const address = { street: "1 Main St", postalCode: "10115", city: "Berlin", state: "BE", country: "DE" };
    expect(mapTraits({ address }).fields.address).toBe("1 Main St\n10115 Berlin\nBE\nDE");
    expect(mapTraits({ address: { postal_code: "10115", country: "DE" } }).fields.address).toBe("10115\nDE");
    expect(mapTraits({ address: " Main St 1 " }).fields.address).toBe("Main St 1");
    const empty = mapTraits({ address: {} });
    expect(empty.fields).toEqual({});
    expect(empty.rest).toEqual({});
  });

  test("company (text or {name}) is returned for the organization and removed from the traits", () => {
    expect(mapTraits({ company: "Acme" })).toEqual({ fields: {}, rest: {}, company: "Acme" });
    expect(mapTraits({ company: { name: "Acme", employees: 10 } })).toEqual({ fields: {}, rest: {}, company: "Acme" });
    // A company object without a name is kept as a trait: nothing is lost.
    expect(mapTraits({ company: { employees: 10 } })).toEqual({
      fields: {},
      rest: { company: { employees: 10 } },
      company: undefined,
    });
  });

  test("the caller's object is not modified", () => {
    const input = { email: "a@x", plan: "pro" };
    mapTraits(input);
    expect(input).toEqual({ email: "a@x", plan: "pro" });
  });
});
