import { PersonFields } from "../../src/domain/person-fields";
import { describe, expect, test } from "bun:test";
import { checkOperation, renderCall } from "../../src/crm-sync/render";
import type { CrmOperation } from "../../src/crm-sync/schema";
import {
  personSourceFromDeleted,
  personSourceOf,
  personTokens,
  templateView,
  type PersonSource,
} from "../../src/crm-sync/tokens";
import { createCustomField } from "../../src/domain/custom-fields";
import { createOrganization } from "../../src/domain/organizations";
import { createUser } from "../../src/domain/users";
import { EventFeed, type Actor } from "../../src/events/feed";
import { unitDb, people } from "../support/unit-db";

const actor: Actor = { id: null, source: "api" };
const ada: PersonSource = {
  id: 7,
  login: "ada",
  email: "ada@x.com",
  firstname: "Ada",
  lastname: "Lovelace",
  phone: "",
  mobile: "+44 7",
  web: "https://ada.dev",
  note: "Countess",
  organization: "Analytical Engines",
  traits: { plan: "pro", whatsapp: "+44 9", score: 3, tags: ["x"], contact: { skype: "ada.l", bad: { deep: 1 } } },
  custom: { tier: "gold" },
  extra: { clearbit_company_name: "AE Ltd", pro_plan: true },
};

describe("person tokens", () => {
  test("Deskpro's token names map from the person's fields", () => {
    expect(personTokens(ada)).toMatchObject({
      id: 7,
      login: "ada",
      first_name: "Ada",
      last_name: "Lovelace",
      name: "Ada Lovelace",
      email: "ada@x.com",
      summary: "Countess",
      web: "https://ada.dev",
      organizations: "Analytical Engines",
      address: null,
      timezone: null,
      last_logged_in: null,
      traits: ada.traits,
    });
  });

  test("phone falls back to the mobile number when empty; name is null without first and last names", () => {
    expect(personTokens(ada).phone).toBe("+44 7");
    expect(personTokens({ ...ada, phone: "+49 1" }).phone).toBe("+49 1");
    expect(personTokens({ id: 1 })).toMatchObject({
      name: null,
      phone: null,
      organizations: "",
      traits: {},
      custom: {},
    });
    expect(personTokens({ id: 1, lastname: "Solo" }).name).toBe("Solo");
  });

  test("contact holds string and number traits, traits.contact's values, and the contact columns (which win)", () => {
    expect(personTokens({ ...ada, traits: { ...ada.traits, email: "old@x.com" } }).contact).toEqual({
      plan: "pro",
      whatsapp: "+44 9",
      score: "3",
      skype: "ada.l",
      mobile: "+44 7",
      web: "https://ada.dev",
      website: "https://ada.dev",
      email: "ada@x.com",
    });
  });

  test("custom and extra fields (clearbit_ traits, audience flags) are tokens by name; built-ins win a clash", () => {
    const t = personTokens({ ...ada, custom: { tier: "gold", email: "shadow" }, extra: { ...ada.extra, id: 99 } });
    expect(t).toMatchObject({
      tier: "gold",
      custom: { tier: "gold", email: "shadow" },
      clearbit_company_name: "AE Ltd",
      pro_plan: true,
      email: "ada@x.com",
      id: 7,
    });
  });

  test("the template view: person, its alias user, and the CRM's external id", () => {
    const view = templateView(ada, "crm-42");
    expect(view.user).toBe(view.person);
    expect(view.external_id).toBe("crm-42");
  });
});

describe("rendering a call", () => {
  const op = (o: Partial<CrmOperation>): CrmOperation => ({
    enabled: true,
    method: "PUT",
    url: "https://crm.example/people/{{ external_id }}",
    headers: "",
    data: "",
    tlsVerify: true,
    timeoutSeconds: 15,
    ...o,
  });

  test("URL values are percent-encoded, data values JSON-escaped, and JSON is the default content type", () => {
    const view = templateView({ ...ada, lastname: 'O"Brien\n' }, "a/b c");
    const call = renderCall(
      op({
        data: '{"name": "{{ person.name }}", "plan": "{{ person.traits.plan }}", "flag": {{ person.pro_plan }}}',
        headers: '{"X-Source": "switchboard"}',
      }),
      view,
    );
    expect(call).toEqual({
      method: "PUT",
      url: "https://crm.example/people/a%2Fb%20c",
      headers: { "X-Source": "switchboard", "Content-Type": "application/json" },
      body: '{"name": "Ada O\\"Brien\\n", "plan": "pro", "flag": true}',
    });
    expect(JSON.parse(call.body!).name).toBe('Ada O"Brien\n');
  });

  test("a content type in the headers is kept (any case); no data means no body and no content type", () => {
    const view = templateView(ada, "1");
    expect(
      renderCall(op({ data: '{"a": 1}', headers: '{"content-type": "application/vnd.crm+json"}' }), view).headers,
    ).toEqual({ "content-type": "application/vnd.crm+json" });
    expect(renderCall(op({ method: "DELETE", data: "  \n" }), view)).toEqual({
      method: "DELETE",
      url: "https://crm.example/people/1",
      headers: {},
      body: undefined,
    });
  });

  test("checking an operation names each faulty template field with the error's position", () => {
    const issues = checkOperation(
      "update",
      op({ url: "ftp://crm/{{ external_id }}", headers: '{"Bad Name": "x"}', data: '{"a": {{ person.missing }}}' }),
      templateView(ada, "1"),
    );
    expect(issues.map((i) => i.field)).toEqual(["update.url", "update.headers", "update.data"]);
    expect(issues[2]!.message).toMatch(/not valid JSON.*line 1/);
    expect(checkOperation("create", op({}), templateView(ada, "1"))).toEqual([]);
  });
});

describe("token sources from the database", () => {
  test("a live person: columns, organization name, every user custom field (null when unset), traits", async () => {
    const db = await unitDb();
    const feed = new EventFeed(db);
    await createCustomField(db, feed, { object_type: "user", name: "tier", label: "Tier", type: "text" }, actor);
    await createCustomField(db, feed, { object_type: "user", name: "region", label: "Region", type: "text" }, actor);
    const org = (await createOrganization(db, feed, { name: "Acme" }, actor)).id;
    const id = (
      await createUser(
        people(db, feed),
        { email: "ada@x.com", firstname: "Ada", organization_id: org, tier: "gold", traits: { plan: "pro" } },
        actor,
      )
    ).id;
    const p = (await personSourceOf(db, new PersonFields(), id))!;
    expect(p).toMatchObject({
      id,
      login: "ada@x.com",
      email: "ada@x.com",
      firstname: "Ada",
      lastname: null,
      organization: "Acme",
      traits: { plan: "pro" },
      custom: { tier: "gold", region: null },
    });
    expect(p.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await personSourceOf(db, new PersonFields(), id + 1)).toBeNull();
  });

  test("a deleted person: the event's before-values, the organization's name, unknown fields as custom fields", async () => {
    const db = await unitDb();
    const org = (await createOrganization(db, new EventFeed(db), { name: "Acme" }, actor)).id;
    const p = await personSourceFromDeleted(db, 5, {
      email: ["ada@x.com", null],
      firstname: ["Ada", null],
      organization_id: [org, null],
      vip: [true, null],
      traits: [{ plan: "pro" }, null],
      tier: ["gold", null],
      phone: [42, null],
    });
    expect(p).toMatchObject({
      id: 5,
      email: "ada@x.com",
      firstname: "Ada",
      organization: "Acme",
      traits: { plan: "pro" },
      custom: { tier: "gold" },
      phone: null,
      login: null,
    });
  });
});
