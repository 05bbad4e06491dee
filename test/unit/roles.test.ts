import { describe, expect, test } from "bun:test";
import { asc } from "drizzle-orm";
import { roles } from "../../src/db/schema";
import {
  ADMIN_ROLE_ID,
  CUSTOMER_ROLE_ID,
  ROLE_ID_CHOICES,
  ROLE_IDS,
  ROLE_NAMES,
  roleName,
} from "../../src/domain/roles";
import { unitDb } from "../support/unit-db";

describe("the role table", () => {
  test("matches the roles the migrations seed, id for id", async () => {
    const seeded = await (await unitDb()).select().from(roles).orderBy(asc(roles.id));
    expect(seeded).toEqual(ROLE_NAMES.map((name) => ({ id: ROLE_IDS[name], name })));
    expect(seeded.map((r) => roleName(r.id))).toEqual(seeded.map((r) => r.name as (typeof ROLE_NAMES)[number]));
    expect([ADMIN_ROLE_ID, CUSTOMER_ROLE_ID]).toEqual([1, 3]);
    expect(ROLE_ID_CHOICES).toBe("1 (Admin), 2 (Agent) or 3 (Customer)");
  });
});
