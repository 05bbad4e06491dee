/**
 * A start-up failure in one line that names the file or address involved, e.g.
 * "file is not a database: /data/switchboard.db", "address in use: 127.0.0.1:8080",
 * "permission denied: /data". Errors that already say what they mean pass through unchanged.
 */
export class StartupError extends Error {}

/** What the operator can do about a database whose pages are damaged. */
export const RESTORE_HINT =
  "restore a copy made with `switchboard backup` " +
  "(with the server stopped, copy it over the file and remove its -wal and -shm)";

const DAMAGED_DATABASE = /^SQLITE_(CORRUPT|NOTADB)/;

type CodedError = Error & { code?: unknown; path?: unknown };

/** Runs one start-up step; a system or SQLite error it throws is re-told naming `subject` (a path or host:port). */
export function naming<T>(subject: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    throw retold(err, subject);
  }
}

function retold(err: unknown, subject: string): unknown {
  const e = err as CodedError;
  if (!(err instanceof Error) || typeof e.code !== "string" || err instanceof StartupError) return err;
  // Node and Bun say "EACCES: permission denied, mkdir '/data'"; SQLite says "file is not a database".
  const what = e.code === "EADDRINUSE" ? "address in use" : (/^E[A-Z]+: ([^,]+)/.exec(err.message)?.[1] ?? err.message);
  const where = typeof e.path === "string" ? e.path : subject;
  const hint = DAMAGED_DATABASE.test(e.code) ? `; ${RESTORE_HINT}` : "";
  return new StartupError(`${what}: ${where}${hint}`, { cause: err });
}
