/**
 * The WAL checkpoint worker (a Worker thread, started by wal-checkpoints.ts): its own connection to
 * the database file copies committed WAL frames into the file (PASSIVE: never waits for, nor blocks,
 * the writer or readers) every few hundred milliseconds, so the copy and its fsync never run on the
 * server's JavaScript thread. Every pass reports what it found (also a heartbeat). On "catch-up" (the
 * main thread holds writes meanwhile) one more pass, which can copy every frame. On "close": a
 * TRUNCATE checkpoint (the WAL emptied), its connection closed, then "closed".
 */
import { Database } from "bun:sqlite";
import type { CheckpointerMessage, CheckpointerReport } from "./wal-checkpoints";

declare const self: Worker;

type Row = { busy: number; log: number; checkpointed: number };
let db: Database | undefined;
let timer: ReturnType<typeof setInterval> | undefined;

/** Runs a checkpoint pragma once; the statement is finalized so that close() really closes the file. */
function checkpoint(conn: Database, mode: "PASSIVE" | "TRUNCATE"): Row {
  const st = conn.prepare<Row, []>(`PRAGMA wal_checkpoint(${mode})`);
  try {
    return st.get()!;
  } finally {
    st.finalize();
  }
}

self.onmessage = (event: MessageEvent<CheckpointerMessage>) => {
  const message = event.data;
  if (message.type === "open") {
    const conn = new Database(message.path, { create: false, strict: true });
    db = conn;
    conn.exec("PRAGMA busy_timeout = 5000");
    const pass = () => self.postMessage({ type: "pass", ...checkpoint(conn, "PASSIVE") } satisfies CheckpointerReport);
    pass();
    timer = setInterval(pass, message.everyMs);
    return;
  }
  if (message.type === "catch-up") {
    // The main thread holds writes meanwhile: this pass ends with every frame in the file.
    if (db) self.postMessage({ type: "caught-up", ...checkpoint(db, "PASSIVE") } satisfies CheckpointerReport);
    return;
  }
  clearInterval(timer);
  if (db) {
    checkpoint(db, "TRUNCATE");
    db.close();
  }
  self.postMessage({ type: "closed" } satisfies CheckpointerReport);
};
