import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";

export class DataDirLockedError extends Error {}

/**
 * Takes the data directory for this process: a lock file holding our pid, created exclusively.
 * A lock left by a process that is gone (crash, kill -9) is taken over.
 */
export function lockDataDir(path: string): { release(): void } {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      // Only our own lock is removed: a lock another process has since taken stays.
      return { release: () => void (readHolder(path) === process.pid && rmSync(path, { force: true })) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = readHolder(path);
      if (holder === undefined) continue; // released between our attempt and the read: try again
      if (holder && holder !== process.pid && isAlive(holder)) {
        throw new DataDirLockedError(`data directory is in use by another Switchboard process (pid ${holder})`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new DataDirLockedError(`could not lock the data directory (${path})`);
}

/** The pid in a lock file, 0 when it holds none (a crash mid-write), undefined when the file is gone. */
function readHolder(path: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(path, "utf8").trim(), 10) || 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
