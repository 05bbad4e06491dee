/**
 * The baseline of bench/people: a bare Bun server answering one indexed SQLite query (the first 50
 * people by id, as JSON) from the same database file Switchboard serves. Prints its URL, then serves.
 */
import { Database } from "bun:sqlite";

const db = new Database(process.argv[2]!, { readonly: true });
const page = db.query(
  "SELECT id, email, firstname, lastname, organization_id, created_at FROM users ORDER BY id LIMIT 50",
);
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ data: page.all() }) });
console.log(JSON.stringify({ msg: "switchboard listening", url: `http://127.0.0.1:${server.port}` }));
