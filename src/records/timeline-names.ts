import type { Db } from "../db/client";
import { listGroups } from "../domain/groups";
import { organizationNames } from "../domain/organizations";
import { ROLE_IDS } from "../domain/roles";
import { describeUsers } from "../domain/users";
import type { ChangeEvent } from "../events/feed";
import { displayValue, personName } from "../http/admin/present";

/** Change fields that hold record ids, by what they refer to. */
const REFERENCES: Record<string, "user" | "organization" | "group" | "role"> = {
  role_ids: "role",
  customer_id: "user",
  owner_id: "user",
  user_ids: "user",
  organization_id: "organization",
  group_id: "group",
  group_ids: "group",
};

const idsIn = (v: unknown): number[] => (Array.isArray(v) ? v : [v]).filter((x): x is number => typeof x === "number");

/**
 * How a timeline shows the values of its changes: ids of people, organizations, groups and roles as their names
 * ("Customer: Alice Wonder → Bob Builder", never "Customer id 3 → 7"); a record deleted since shows as "#id".
 */
export async function referenceFormat(db: Db, history: ChangeEvent[]) {
  const wanted: Record<"user" | "organization" | "group" | "role", number[]> = {
    user: [],
    organization: [],
    group: [],
    role: [],
  };
  for (const e of history)
    for (const [field, [from, to]] of Object.entries(e.changes)) {
      const kind = REFERENCES[field];
      if (kind) wanted[kind].push(...idsIn(from), ...idsIn(to));
    }
  const users = await describeUsers(db, wanted.user);
  const names: Record<"user" | "organization" | "group" | "role", Map<number, string>> = {
    role: new Map(Object.entries(ROLE_IDS).map(([name, id]) => [id, name])),
    user: new Map([...users].map(([id, u]) => [id, personName(u)])),
    organization: await organizationNames(db, wanted.organization),
    group: wanted.group.length ? new Map((await listGroups(db)).map((g) => [g.id, g.name])) : new Map(),
  };
  return (field: string, v: unknown): string => {
    const kind = REFERENCES[field];
    if (!kind || (typeof v !== "number" && !Array.isArray(v))) return displayValue(v);
    return idsIn(v)
      .map((id) => names[kind].get(id) ?? `#${id}`)
      .join(", ");
  };
}
