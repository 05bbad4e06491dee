import { statfsSync } from "node:fs";
import { settings } from "./schema";
import { sql } from "drizzle-orm";
import { sqlAll, type Db, type StoreDescription } from "./client";
import { databaseBytes } from "./maintenance";

/**
 * Result codes that mean the storage, not the request, is at fault (disk full, I/O error, read-only,
 * damage): SQLite's, and PostgreSQL's SQLSTATEs for the same (53100 disk full, 58030 I/O error,
 * 25006 read-only transaction, XX001/XX002 damaged data or index).
 */
const STORAGE_FAILURE = /^(SQLITE_(FULL|IOERR|READONLY|CORRUPT|NOTADB|CANTOPEN)|53100$|58030$|25006$|XX00[12]$)/;
/**
 * Writes count as failing for this long after the last failure: a small probe can
 * pass on a disk too full for real writes.
 */
const FAILING_FOR_MS = 60_000;
const PROBE_KEY = "health.write_probe";

/** The storage failure an error is, or wraps (drizzle wraps PostgreSQL's error in `cause`); null if none. */
export function storageFailureOf(err: unknown): (Error & { code: string }) | null {
  for (const e of [err, (err as { cause?: unknown } | null)?.cause]) {
    const code = (e as { code?: unknown } | null)?.code;
    if (e instanceof Error && typeof code === "string" && STORAGE_FAILURE.test(code))
      return e as Error & { code: string };
  }
  return null;
}

export type HealthReport = {
  ok: boolean;
  /** Which database: the SQLite file, or PostgreSQL's host, port, database and user (never a password). */
  store: StoreDescription;
  checks: {
    database: "ok" | "unavailable";
    writes: { status: "ok" | "failing"; failures: number; last_error: string | null; last_error_at: string | null };
    disk: { free_bytes: number | null };
  };
};

/**
 * Whether the database can be read and written, and the free space of the data directory, for
 * /healthz and /metrics. Write failures are recorded where they surface (the error mapper) and by a
 * probe that commits one tiny row on each health check.
 */
export class DatabaseHealth {
  writeFailures = 0;
  private lastFailure: { message: string; at: Date } | null = null;

  constructor(
    private readonly db: Db,
    private readonly dataDir: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a failed write; false (nothing recorded) when the error is not the storage's. */
  recordFailure(err: unknown): boolean {
    const failure = storageFailureOf(err);
    if (!failure) return false;
    this.writeFailures++;
    this.lastFailure = { message: `${failure.code}: ${failure.message}`, at: new Date(this.now()) };
    return true;
  }

  /** The database's size in bytes (SQLite: the file and its write-ahead log). */
  databaseBytes(): Promise<number> {
    return databaseBytes(this.db);
  }

  freeBytes(): number | null {
    try {
      const s = statfsSync(this.dataDir);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  }

  async check(): Promise<HealthReport> {
    let database: "ok" | "unavailable" = "ok";
    try {
      await sqlAll(this.db, sql`SELECT 1`);
      await this.probeWrite();
    } catch (err) {
      if (!this.recordFailure(err)) database = "unavailable";
    }
    const failing = this.lastFailure !== null && this.now() - this.lastFailure.at.getTime() < FAILING_FOR_MS;
    return {
      ok: database === "ok" && !failing,
      store: this.db.describe,
      checks: {
        database,
        writes: {
          status: failing ? "failing" : "ok",
          failures: this.writeFailures,
          last_error: this.lastFailure?.message ?? null,
          last_error_at: this.lastFailure?.at.toISOString() ?? null,
        },
        disk: { free_bytes: this.freeBytes() },
      },
    };
  }

  private async probeWrite(): Promise<void> {
    const at = new Date(this.now());
    await this.db.transaction((tx) =>
      tx
        .insert(settings)
        .values({ key: PROBE_KEY, value: at.toISOString(), updatedAt: at })
        .onConflictDoUpdate({ target: settings.key, set: { value: at.toISOString(), updatedAt: at } }),
    );
  }
}
