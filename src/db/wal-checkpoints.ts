import type { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import type { Logger } from "../log";

/**
 * WAL checkpoints off the server's JavaScript thread. SQLite's automatic checkpoint runs inside the
 * COMMIT that pushes the WAL past 1,000 pages: it copies the WAL into the database file and fsyncs,
 * tens of milliseconds during which bun:sqlite (synchronous) blocks every request and the delivery
 * engine. Once the store's commits have written a little WAL (so an idle server or a CLI command
 * never pays for a thread), a Worker (wal-checkpointer.ts) with its own connection checkpoints every
 * few hundred milliseconds, and the write connection's automatic checkpoint is turned off (only once
 * the worker answered, so migrations and the first writes keep SQLite's own).
 * Guard: if the worker fails, exits, or stops reporting while the WAL is past 64 MiB, the automatic
 * checkpoint comes back on the write connection (logged): the WAL never grows without bound.
 * A checkpoint running beside the writer never ends with every frame copied (new ones arrive while it
 * runs), and SQLite starts the WAL over only when a write transaction begins after one that did: under
 * steady writes the WAL would grow forever. So when a pass leaves 1,000 frames or more (SQLite's own
 * threshold), the store holds its next write (`holdWrites`: the queue waits, the event loop does not)
 * while the worker copies the few frames written since: a short pass, after which the next write
 * starts the WAL over.
 */
export type WalCheckpoints = {
  /** After each COMMIT: starts the worker, or falls back, when due (reads the WAL size every 200 ms at most). */
  committed(): void;
  /** Stops the worker after a last (TRUNCATE) checkpoint; before the store's own connections close. */
  close(): Promise<void>;
};

/** What the main thread tells the worker. */
export type CheckpointerMessage =
  | { type: "open"; path: string; everyMs: number }
  | { type: "catch-up" }
  | { type: "close" };
/** What the worker tells the main thread: each pass's wal_checkpoint row, and that it closed. */
export type CheckpointerReport =
  | { type: "pass" | "caught-up"; busy: number; log: number; checkpointed: number }
  | { type: "closed" };

const CHECK_EVERY_MS = 200;
const PASS_EVERY_MS = 200;
/** WAL bytes written before the worker starts (SQLite's own checkpoint runs at 1,000 pages, 4 MiB). */
const START_BYTES = 1024 * 1024;
/** Past this, a worker silent for FALLBACK_SILENCE_MS is taken for dead. */
const FALLBACK_BYTES = 64 * 1024 * 1024;
const FALLBACK_SILENCE_MS = 5_000;
const CLOSE_DEADLINE_MS = 10_000;
const CATCH_UP_DEADLINE_MS = 1_000;
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export function walCheckpoints(
  path: string,
  writer: Database,
  /** Runs `during` once the transactions already queued have ended, before any queued after. */
  holdWrites: (during: () => Promise<void>) => void,
  log?: Logger,
): WalCheckpoints {
  const wal = `${path}-wal`;
  let state: "main" | "starting" | "worker" | "fallback" = "main";
  let worker: Bun.Worker | undefined;
  let lastCheck = 0;
  let lastReport = 0;
  let onClosed: (() => void) | undefined;
  let onCaughtUp: (() => void) | undefined;
  let holding = false;
  let commitsSinceCatchUp = 0;

  /** Writes wait (at most CATCH_UP_DEADLINE_MS) for a pass with no writer beside it. */
  function catchUp(w: Bun.Worker) {
    holding = true;
    holdWrites(async () => {
      holding = false;
      if (worker !== w || onClosed) return;
      commitsSinceCatchUp = 0;
      await ask(w, { type: "catch-up" }, CATCH_UP_DEADLINE_MS, (answered) => (onCaughtUp = answered));
      onCaughtUp = undefined;
    });
  }

  const autocheckpoint = (pages: number) => writer.run(`PRAGMA wal_autocheckpoint = ${pages}`);

  function fallBack(reason: string) {
    if (state === "fallback") return;
    state = "fallback";
    autocheckpoint(SQLITE_AUTOCHECKPOINT_PAGES);
    worker?.terminate();
    worker = undefined;
    onClosed?.();
    log?.warn("wal checkpoints back on the main thread", { reason, wal_bytes: fileBytes(wal) });
  }

  function start() {
    state = "starting";
    lastReport = performance.now();
    // A file the build embeds (package.json "build" names it as an entry point).
    const w = new Worker(new URL("./wal-checkpointer.ts", import.meta.url), { smol: true }) as Bun.Worker;
    worker = w;
    w.unref();
    w.addEventListener("message", (event: Event) => {
      if (worker !== w) return;
      lastReport = performance.now();
      const report = (event as MessageEvent<CheckpointerReport>).data;
      if (report.type === "closed") {
        onClosed?.();
        return;
      }
      if (report.type === "caught-up") {
        onCaughtUp?.();
        return;
      }
      // A pass reads `log` as it starts: frames committed while it ran are not in it, hence "commits since".
      if (report.log >= SQLITE_AUTOCHECKPOINT_PAGES && commitsSinceCatchUp > 0 && !holding) catchUp(w);
      if (state === "starting") {
        state = "worker";
        autocheckpoint(0);
        log?.info("wal checkpoints moved to a worker thread", { wal_bytes: fileBytes(wal) });
      }
    });
    w.addEventListener("error", (event) => fallBack(`the checkpoint worker failed: ${event.message}`));
    w.addEventListener("close", () => {
      if (worker === w && !onClosed) fallBack("the checkpoint worker exited");
    });
    w.postMessage({ type: "open", path, everyMs: PASS_EVERY_MS } satisfies CheckpointerMessage);
  }

  return {
    committed() {
      commitsSinceCatchUp++;
      if (state === "fallback") return;
      const now = performance.now();
      if (now - lastCheck < CHECK_EVERY_MS) return;
      lastCheck = now;
      const bytes = fileBytes(wal);
      if (state === "main") {
        if (bytes >= START_BYTES) start();
      } else if (bytes > FALLBACK_BYTES && now - lastReport > FALLBACK_SILENCE_MS) {
        fallBack(`no checkpoint report for ${Math.round(now - lastReport)} ms`);
      }
    },
    async close() {
      const w = worker;
      if (!w || state === "fallback") return;
      await ask(w, { type: "close" }, CLOSE_DEADLINE_MS, (answered) => (onClosed = answered));
      worker = undefined;
      w.terminate();
    },
  };
}

/** Posts `message` to the worker; resolves when the handler given to `onAnswer` is called, or after `deadlineMs`. */
function ask(
  w: Bun.Worker,
  message: CheckpointerMessage,
  deadlineMs: number,
  onAnswer: (answered: () => void) => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const deadline = setTimeout(resolve, deadlineMs);
    onAnswer(() => {
      clearTimeout(deadline);
      resolve();
    });
    w.postMessage(message);
  });
}
