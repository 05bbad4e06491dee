/**
 * The baseline of bench/rest-webhook: a bare Bun server whose POST /users stores the change and one
 * outbox job in one transaction and answers 201, while the bare outbox sends signed deliveries to the
 * receiver given as the second argument. Prints its URL, then serves.
 */
import { bareOutbox } from "./bare-outbox";

const [path, receiverUrl, concurrency] = process.argv.slice(2) as [string, string, string];
const outbox = bareOutbox(path, { concurrency: Number(concurrency), secret: "bench-secret" });
void outbox.run(() => false);
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const user = (await req.json()) as { email: string };
    const body = JSON.stringify({ event: { type: "user.created" }, user });
    const id = outbox.record(body, [receiverUrl]);
    return Response.json({ id, ...user }, { status: 201 });
  },
});
console.log(JSON.stringify({ msg: "switchboard listening", url: `http://127.0.0.1:${server.port}` }));
