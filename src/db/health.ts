import { statfsSync } from "node:fs";
import { settings } from "./schema";
import { sql } from "drizzle-orm";
import { sqlAll, type Db } from "./client";

/**
 * SQLite result codes that mean the storage, not the request, is at fault (disk full, I/O error, read-only, damage).
 */
const STORAGE_FAILURE = /^SQLITE_(FULL|IOERR|READONLY|CORRUPT|NOTADB|CANTOPEN)/;
/**
 * Writes count as failing for this long after the last failure: a small probe can
 * pass on a disk too full for real writes.
 */
const FAILING_FOR_MS = 60_000;
const PROBE_KEY = "health.write_probe";

function isStorageFailure(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === "string" && STORAGE_FAILURE.test(code);
}

export type HealthReport = {
  ok: boolean;
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
    if (!isStorageFailure(err)) return false;
    this.writeFailures++;
    this.lastFailure = { message: `${err.code}: ${err.message}`, at: new Date(this.now()) };
    return true;
  }

  /** The database file and its write-ahead log, in bytes (two stat calls). */
  databaseBytes(): number {
    const path = this.db.$client.filename;
    return [path, `${path}-wal`].reduce((sum, p) => sum + (Bun.file(p).size || 0), 0);
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
