import { describe, expect, test } from "bun:test";
import { mergeProviderValues, providerMayWrite } from "../../src/enrichment/merge";
import { DEFAULT_USER_MAPPINGS, parseMappings, proposedValues } from "../../src/enrichment/mappings";
import { flattenAnswer, humanName } from "../../src/enrichment/traits";

const SRC = "enrichment:clearbit";
const at = 1_700_000_000_000;

describe("the merge rule", () => {
  test("a provider value fills an empty field nobody wrote", () => {
    expect(mergeProviderValues({ note: null }, {}, { note: "bio" }, SRC)).toEqual({ note: "bio" });
    expect(mergeProviderValues({ note: "" }, {}, { note: "bio" }, SRC)).toEqual({ note: "bio" });
  });

  test("it never overwrites a value written by another source", () => {
    for (const source of ["api", "identify", "import", "system", "ui", "enrichment:other"]) {
      expect(mergeProviderValues({ lastname: "X" }, { lastname: { source, at } }, { lastname: "Smith" }, SRC)).toEqual(
        {},
      );
    }
  });

  test("it never overwrites a value present without provenance", () => {
    expect(mergeProviderValues({ web: "https://mine" }, {}, { web: "https://theirs" }, SRC)).toEqual({});
  });

  test("a value the provider wrote earlier is updated when the provider's value changes", () => {
    expect(mergeProviderValues({ note: "old bio" }, { note: { source: SRC, at } }, { note: "new bio" }, SRC)).toEqual({
      note: "new bio",
    });
  });

  test("an unchanged provider value writes nothing", () => {
    expect(mergeProviderValues({ note: "bio" }, { note: { source: SRC, at } }, { note: "bio" }, SRC)).toEqual({});
  });

  test("a field an admin edited is theirs from then on, even emptied", () => {
    expect(mergeProviderValues({ note: "admin's" }, { note: { source: "ui", at } }, { note: "bio" }, SRC)).toEqual({});
    expect(mergeProviderValues({ note: null }, { note: { source: "ui", at } }, { note: "bio" }, SRC)).toEqual({});
  });

  test("another program's emptied field is filled", () => {
    expect(mergeProviderValues({ note: null }, { note: { source: "api", at } }, { note: "bio" }, SRC)).toEqual({
      note: "bio",
    });
  });

  test("an empty provider value never clears anything", () => {
    expect(mergeProviderValues({ note: "bio" }, { note: { source: SRC, at } }, { note: "" }, SRC)).toEqual({});
    expect(mergeProviderValues({ note: "bio" }, { note: { source: SRC, at } }, { note: null }, SRC)).toEqual({});
  });

  test("fields are decided one by one", () => {
    const current = { firstname: null, lastname: "X", note: "old", web: "mine" };
    const prov = { lastname: { source: "api", at }, note: { source: SRC, at }, web: { source: "ui", at } };
    expect(
      mergeProviderValues(current, prov, { firstname: "Alex", lastname: "Smith", note: "new", web: "theirs" }, SRC),
    ).toEqual({ firstname: "Alex", note: "new" });
  });
});

describe("the merge rule for organizations and the person's organization", () => {
  test("an organization field the provider set follows its new value; others' values and the admin's stay", () => {
    const current = { name: "Hooli", note: "ours", industry: "Industry v1", domain: "hooli.com" };
    const prov = {
      name: { source: SRC, at },
      note: { source: "ui", at },
      industry: { source: SRC, at },
      domain: { source: "api", at },
    };
    expect(
      mergeProviderValues(
        current,
        prov,
        { name: "Hooli", note: "theirs", industry: "Industry v2", domain: "hooli.io" },
        SRC,
      ),
    ).toEqual({ industry: "Industry v2" });
  });

  test("providerMayWrite: a person the provider placed, or one without an organization others left empty", () => {
    expect(providerMayWrite(7, SRC, SRC)).toBe(true);
    expect(providerMayWrite(null, undefined, SRC)).toBe(true);
    expect(providerMayWrite(null, "api", SRC)).toBe(true);
    expect(providerMayWrite(7, "api", SRC)).toBe(false);
    expect(providerMayWrite(7, undefined, SRC)).toBe(false);
    expect(providerMayWrite(null, "ui", SRC)).toBe(false);
  });
});

describe("mappings", () => {
  test("when several paths map to one field, the first non-empty wins", () => {
    const answer = {
      person: { site: null, location: "Berlin" },
      company: { site: "https://acme.example", location: "Paris" },
    };
    expect(proposedValues(answer, DEFAULT_USER_MAPPINGS)).toMatchObject({
      web: "https://acme.example",
      address: "Berlin",
    });
    expect(proposedValues({ person: { site: "  " }, company: { site: "https://c" } }, DEFAULT_USER_MAPPINGS).web).toBe(
      "https://c",
    );
  });

  test("Zammad's defaults: name, email, bio → note, site → web, location → address, avatar → image", () => {
    const answer = {
      person: {
        name: { givenName: "Alex", familyName: "Smith" },
        email: "a@x.com",
        bio: "Bio",
        site: "https://s",
        location: "Loc",
        avatar: "https://a.png",
      },
      company: null,
    };
    expect(proposedValues(answer, DEFAULT_USER_MAPPINGS)).toEqual({
      firstname: "Alex",
      lastname: "Smith",
      email: "a@x.com",
      note: "Bio",
      web: "https://s",
      address: "Loc",
      image: "https://a.png",
    });
  });

  test("objects are not mapped; arrays become text", () => {
    expect(
      proposedValues({ person: null, company: { geo: { city: "X" }, tags: ["a", "b"] } }, [
        { source: "company.geo", target: "note" },
        { source: "company.tags", target: "web" },
      ]),
    ).toEqual({ web: "a, b" });
  });

  test("mapping lines parse, with the line of a mistake named", () => {
    expect(parseMappings("person.bio → note\n\ncompany.name -> org_name")).toEqual([
      { source: "person.bio", target: "note" },
      { source: "company.name", target: "org_name" },
    ]);
    expect(parseMappings("person.bio note")).toEqual({ line: 1, message: 'line 1: write "provider.path → field"' });
  });
});

describe("traits and names", () => {
  test("the answer flattens into Segment-style clearbit_ traits", () => {
    const t = flattenAnswer(
      {
        person: { employment: { title: "CTO" }, name: { givenName: "A" } },
        company: { name: "Acme", metrics: { employeesRange: "1-10" }, tags: ["x"], site: { url: "https://acme" } },
      },
      new Date(at),
    );
    expect(t).toEqual({
      clearbit_person_employment_title: "CTO",
      clearbit_person_name_given_name: "A",
      clearbit_company_name: "Acme",
      clearbit_company_metrics_employees_range: "1-10",
      clearbit_company_tags: ["x"],
      clearbit_company_site_url: "https://acme",
      clearbit_date_last_checked: new Date(at).toISOString(),
    });
  });

  test("Heap-style human-readable names", () => {
    expect(humanName("company.site.url")).toBe("Company Website URL");
    expect(humanName("person.employment.title")).toBe("Person Employment Title");
    expect(humanName("company.metrics.employeesRange")).toBe("Company Metrics Employees Range");
    expect(humanName("date_last_checked")).toBe("Clearbit: Date Last Checked");
  });
});
