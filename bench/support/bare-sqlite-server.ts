/**
 * The baseline of bench/ingest: a bare Bun server that parses the JSON body and does one SQLite
 * insert per request, with the same pragmas Switchboard uses. Prints its URL, then serves.
 */
import { Database } from "bun:sqlite";

const db = new Database(process.argv[2]!, { create: true });
db.exec("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
db.exec("CREATE TABLE IF NOT EXISTS people (id INTEGER PRIMARY KEY, user_id TEXT, email TEXT UNIQUE, traits TEXT)");
const insert = db.prepare("INSERT INTO people (user_id, email, traits) VALUES (?, ?, ?)");
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const body = (await req.json()) as { userId: string; traits: { email: string } };
    insert.run(body.userId, body.traits.email, JSON.stringify(body.traits));
    return Response.json({ success: true });
  },
});
console.log(JSON.stringify({ msg: "switchboard listening", url: `http://127.0.0.1:${server.port}` }));
