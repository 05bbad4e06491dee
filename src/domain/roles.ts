/**
 * The one role table: Zammad's fixed ids, seeded into `roles` by migration 0001 (which must not change).
 * Code names roles through these constants, never by bare numbers.
 */
export const ROLE_IDS = { Admin: 1, Agent: 2, Customer: 3 } as const;
export type RoleName = keyof typeof ROLE_IDS;
export const ROLE_NAMES = Object.keys(ROLE_IDS) as [RoleName, ...RoleName[]];

export const ADMIN_ROLE_ID = ROLE_IDS.Admin;
export const CUSTOMER_ROLE_ID = ROLE_IDS.Customer;

const NAME_OF = new Map<number, RoleName>(ROLE_NAMES.map((name) => [ROLE_IDS[name], name]));
export const roleName = (id: number): RoleName => NAME_OF.get(id)!;
/** "1 (Admin), 2 (Agent) or 3 (Customer)": for validation messages. */
export const ROLE_ID_CHOICES = ROLE_NAMES.map((n) => `${ROLE_IDS[n]} (${n})`)
  .join(", ")
  .replace(/, ([^,]*)$/, " or $1");
