/**
 * The baseline for the delivery engine: the least code with the same guarantees. A change and its
 * jobs commit in one transaction; a sender claims due jobs in batches with a lease (a crash hands them
 * back), sends each signed with fetch at a fixed concurrency, and finishes the batch in one transaction
 * that deletes the jobs and writes a log row per attempt. No retries, templates or per-destination
 * limits: everything Switchboard does beyond this is what its ratio to this baseline pays for.
 */
import { Database } from "bun:sqlite";
import { createHmac } from "node:crypto";

const LEASE_MS = 30_000;

export function bareOutbox(path: string, opts: { concurrency: number; secret: string }) {
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  db.exec(`CREATE TABLE IF NOT EXISTS changes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, url TEXT NOT NULL, change_id INTEGER NOT NULL,
      lease_until INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, status INTEGER NOT NULL,
      at INTEGER NOT NULL)`);
  const insertChange = db.prepare<{ id: number }, [string]>("INSERT INTO changes (body) VALUES (?) RETURNING id");
  const insertJob = db.prepare("INSERT INTO jobs (url, change_id) VALUES (?, ?)");
  const claimDue = db.prepare<{ id: number; url: string; body: string }, [number, number, number]>(
    `UPDATE jobs SET lease_until = ?1 WHERE id IN (SELECT id FROM jobs WHERE lease_until < ?2 ORDER BY id LIMIT ?3)
     RETURNING id, url, (SELECT body FROM changes WHERE changes.id = change_id) AS body`,
  );
  const deleteJob = db.prepare("DELETE FROM jobs WHERE id = ?");
  const logAttempt = db.prepare("INSERT INTO log (job_id, status, at) VALUES (?, ?, ?)");

  const record = db.transaction((body: string, urls: string[]) => {
    const { id } = insertChange.get(body)!;
    for (const url of urls) insertJob.run(url, id);
    return id;
  });
  const claim = db.transaction((limit: number) => {
    const now = Date.now();
    return claimDue.all(now + LEASE_MS, now, limit);
  });
  const finish = db.transaction((done: { id: number; status: number }[]) => {
    const now = Date.now();
    for (const d of done) {
      deleteJob.run(d.id);
      logAttempt.run(d.id, d.status, now);
    }
  });

  async function send(job: { id: number; url: string; body: string }): Promise<{ id: number; status: number }> {
    const ts = Math.floor(Date.now() / 1000);
    const signature = createHmac("sha256", opts.secret).update(`${job.id}.${ts}.${job.body}`).digest("base64");
    const res = await fetch(job.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": String(job.id),
        "webhook-timestamp": String(ts),
        "webhook-signature": `v1,${signature}`,
      },
      body: job.body,
    });
    await res.arrayBuffer();
    return { id: job.id, status: res.status };
  }

  /** Sends until `stop()` says so, batch by batch: claim, send concurrently, finish in one transaction. */
  async function run(stop: () => boolean): Promise<void> {
    while (!stop()) {
      const batch = claim(opts.concurrency * 4);
      if (!batch.length) {
        await Bun.sleep(1);
        continue;
      }
      let next = 0;
      const done: { id: number; status: number }[] = [];
      await Promise.all(
        Array.from({ length: Math.min(opts.concurrency, batch.length) }, async () => {
          while (next < batch.length) done.push(await send(batch[next++]!));
        }),
      );
      finish(done);
    }
  }

  return { record, run, close: () => db.close() };
}
