import { z } from "zod";
import { ROLE_NAMES } from "../domain/roles";
import { USER_SORTS } from "../domain/users";
import { STATES } from "../domain/tickets";
import { isoTime, loose, pageParams, queryBool, queryDate, queryId } from "../http/api/operation";

/** Query strings and answers of the records API (people, organizations, groups, tickets, custom fields, events). */

const trimmed = z.string().trim().max(200).optional();

export const usersQuery = z.strictObject({
  ...pageParams,
  q: trimmed,
  sort: z.enum(USER_SORTS).optional(),
  organization_id: queryId.optional(),
  role: z.enum(ROLE_NAMES).optional(),
  group_id: queryId.optional(),
  active: queryBool.optional(),
  vip: queryBool.optional(),
  email: z.string().trim().toLowerCase().optional(),
  updated_since: queryDate.optional(),
  seen_since: queryDate.optional(),
});

export const organizationsQuery = z.strictObject({
  ...pageParams,
  q: trimmed,
  sort: z.enum(["id", "name"]).optional(),
  domain: z.string().trim().toLowerCase().optional(),
  active: queryBool.optional(),
});

export const ticketsQuery = z.strictObject({
  ...pageParams,
  state: z.enum(STATES).optional(),
  customer_id: queryId.optional(),
  owner_id: queryId.optional(),
  organization_id: queryId.optional(),
  group_id: queryId.optional(),
  q: trimmed,
});

export const reassignQuery = z.strictObject({ reassign_to: queryId.optional() });
export const importQuery = z.strictObject({ dry_run: queryBool.optional() });
export const customFieldsQuery = z.strictObject({ object_type: z.enum(["user", "organization"]).optional() });
export const eventsQuery = z.strictObject({
  cursor: z.coerce.number().int().min(0).optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).optional(),
  wait: z.coerce.number().int().min(0).optional(),
  object_type: z.string().max(50).optional(),
  object_id: queryId.optional(),
});

const nullableText = z.string().nullable();
const when = isoTime.nullable();
const stamps = {
  created_at: isoTime,
  updated_at: isoTime,
  created_by_id: z.number().int().nullable(),
  updated_by_id: z.number().int().nullable(),
};

/** A person; custom fields and the fields features contribute (clearbit_…, audiences) sit beside these. */
export const userModel = loose({
  id: z.number().int(),
  login: z.string(),
  email: nullableText,
  firstname: nullableText,
  lastname: nullableText,
  phone: nullableText,
  mobile: nullableText,
  address: nullableText,
  web: nullableText,
  note: nullableText,
  image: nullableText,
  organization_id: z.number().int().nullable(),
  organization: nullableText,
  vip: z.boolean(),
  verified: z.boolean(),
  out_of_office: z.boolean(),
  timezone: nullableText,
  last_login: when,
  last_seen_at: when,
  active: z.boolean(),
  role_ids: z.array(z.number().int()),
  roles: z.array(z.enum(ROLE_NAMES)),
  group_ids: z.array(z.number().int()),
  traits: z.record(z.string(), z.unknown()),
  ...stamps,
});

/** An organization; its custom fields sit beside these. */
export const organizationModel = loose({
  id: z.number().int(),
  name: z.string(),
  domain: nullableText,
  domain_assignment: z.boolean(),
  shared: z.boolean(),
  note: nullableText,
  active: z.boolean(),
  member_ids: z.array(z.number().int()),
  member_count: z.number().int(),
  ...stamps,
});

export const groupModel = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  note: nullableText,
  active: z.boolean(),
  user_ids: z.array(z.number().int()),
  users: z.array(z.string()),
  ...stamps,
});

export const articleModel = loose({
  id: z.number().int(),
  ticket_id: z.number().int(),
  body: z.string(),
  attachments: z.array(
    z.strictObject({
      id: z.number().int(),
      filename: z.string(),
      size: z.number().int(),
      content_type: z.string(),
      url: z.string(),
    }),
  ),
});

export const ticketModel = loose({
  id: z.number().int(),
  number: z.string(),
  title: z.string(),
  state: z.enum(STATES),
  customer_id: z.number().int().nullable(),
  owner_id: z.number().int().nullable(),
  organization_id: z.number().int().nullable(),
  article_ids: z.array(z.number().int()),
});
export const newTicketModel = ticketModel.extend({ article: articleModel.nullable().optional() });

export const customFieldModel = z.strictObject({
  id: z.number().int(),
  object_type: z.enum(["user", "organization"]),
  name: z.string(),
  label: z.string(),
  type: z.enum(["text", "number", "boolean", "date", "select"]),
  options: z.array(z.string()),
  required: z.boolean(),
  position: z.number().int(),
  created_at: isoTime,
  updated_at: isoTime,
});

export const eventModel = z.strictObject({
  id: z.number().int(),
  type: z.string(),
  object_type: z.string(),
  object_id: z.number().int(),
  changes: z.record(z.string(), z.unknown()),
  actor_id: z.number().int().nullable(),
  source: z.string(),
  created_at: isoTime,
});

export const provenanceModel = z.record(z.string(), z.strictObject({ source: z.string(), at: isoTime }));

/** An import's report: what was (or would be) created and updated, and the errors per row. */
export const importReportModel = loose({ committed: z.boolean(), errors: z.array(z.unknown()) });
