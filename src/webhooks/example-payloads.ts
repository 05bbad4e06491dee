import { openDatabase } from "../db/client";
import { migrateDatabase } from "../db/maintenance";
import { customFields } from "../db/schema";
import type { CustomField } from "../domain/custom-fields";
import { createGroup, deleteGroup, updateGroup } from "../domain/groups";
import { createOrganization, deleteOrganization, updateOrganization } from "../domain/organizations";
import type { PersonFields } from "../domain/person-fields";
import { createTicket, deleteTicket, updateTicket } from "../domain/tickets";
import { createUser, deleteUser, updateUser } from "../domain/users";
import { EventFeed, type Actor, type ChangeEvent } from "../events/feed";
import { PayloadBuilder } from "./payloads";

type Json = Record<string, unknown>;

/** The sample article's attachment: only its name, type, size and link reach a payload. */
const SAMPLE_FILE = btoa("a sample image");

/**
 * The payload of every event type as a webhook would carry it: sample records (with names that are
 * hard to escape) are written through the domain functions into a scratch in-memory database, every
 * event they record is turned into a payload by the PayloadBuilder that builds real deliveries. The
 * instance's custom field definitions are copied in, so their fields show; `personFields` adds the
 * fields features give every person.
 */
export async function examplePayloads(opts: {
  publicUrl: string;
  personFields: PersonFields;
  customFields: CustomField[];
}): Promise<Map<string, Json>> {
  const db = openDatabase(":memory:");
  try {
    migrateDatabase(db);
    if (opts.customFields.length)
      await db.transaction(async (tx) => {
        await tx.insert(customFields).values(opts.customFields.map(({ id: _id, ...f }) => ({ ...f, required: false })));
      });
    const feed = new EventFeed(db);
    const recorded: ChangeEvent[] = [];
    feed.onRecord(async (_tx, e) => void recorded.push(e));
    const builder = new PayloadBuilder(db, opts);
    const examples = new Map<string, Json>();
    /** Payloads are built after each write commits, as the first article of a new ticket is sent. */
    const capture = async () => {
      for (const e of recorded.splice(0)) if (!examples.has(e.type)) examples.set(e.type, await builder.forEvent(e));
    };
    const people = { db, events: feed, personFields: opts.personFields };
    const system: Actor = { id: null, source: "ui" };

    const org = await createOrganization(
      db,
      feed,
      { name: 'Awesome "Customer" Inc.', domain: "example.com", note: "Global distributor\nof café \\ crème" },
      system,
    );
    await capture();
    const customer = await createUser(
      people,
      {
        email: "emily@example.com",
        firstname: 'Emily "Em"',
        lastname: "O'Brien-Ünal \\ ☕",
        phone: "0061 2 1234 7777",
        address: "Bennelong Point\nSydney NSW 2000",
        note: "did order café au lait",
        organization_id: org.id,
        roles: ["Customer"],
      },
      system,
    );
    await capture();
    const agent = await createUser(
      people,
      { email: "emma@example.com", firstname: "Emma", lastname: "Taylor", roles: ["Agent"] },
      system,
    );
    const actor: Actor = { id: agent.id, source: "ui" };
    const group = await createGroup(db, feed, { name: "Service Desk", user_ids: [agent.id] }, actor);
    await capture();
    const { ticket } = await createTicket(
      db,
      feed,
      {
        title: 'Webhook "test" \\ ünïcödé\nsecond line',
        customer_id: customer.id,
        owner_id: agent.id,
        group_id: group.id,
        article: {
          from: 'Emily "Em" <emily@example.com>',
          to: "Service Desk",
          type: "phone",
          sender: "Customer",
          content_type: "text/html",
          body: 'This is a simple Webhook Test.<div><br></div>\n<img src="/x">',
          attachments: [{ filename: "image1.jpeg", content_type: "image/jpeg", data: SAMPLE_FILE }],
        },
      },
      actor,
    );
    await capture();
    // Adding the first article also records ticket.updated; the example shows a change an agent makes.
    examples.delete("ticket.updated");
    await updateTicket(db, feed, ticket.id, { state: "open", priority: "3 high" }, actor);
    await updateUser(people, customer.id, { vip: true }, actor);
    await updateOrganization(db, feed, org.id, { shared: false }, actor);
    await updateGroup(db, feed, group.id, { note: "First line" }, actor);
    await capture();
    // Recorded by an enrichment provider after a lookup; the payload is the person's, as for user.updated.
    await db.transaction((tx) =>
      feed.record(tx, { type: "user.enriched", objectType: "user", objectId: customer.id, actor: system }),
    );
    await capture();
    await deleteTicket(db, feed, ticket.id, actor);
    await deleteUser(db, feed, customer.id, actor);
    await deleteGroup(db, feed, group.id, actor);
    await deleteOrganization(db, feed, org.id, actor);
    await capture();
    return examples;
  } finally {
    await db.close();
  }
}
