import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";

/**
 * What a clean stop leaves beside the SQLite file: the identity, size and change times of the file
 * and its write-ahead log. A start that finds them unchanged knows the pages are as SQLite closed
 * them and skips the full page check (quick_check reads the whole file: seconds at a million
 * people). A crash, a copy, a restore or any edit since changes them (the change time cannot be set
 * back), and the mark is taken at start, so the start after an unclean stop checks every page.
 */
function fileState(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "absent";
    throw err;
  }
}

const stateOf = (dbPath: string) => `${fileState(dbPath)} ${fileState(`${dbPath}-wal`)}`;

/** After the database is closed: records the files as they are now. */
export function markCleanStop(dbPath: string, markPath: string): void {
  writeFileSync(markPath, stateOf(dbPath));
}

/** Before the database is opened: whether a clean stop left it unchanged. The mark is used up. */
export function takeCleanStop(dbPath: string, markPath: string): boolean {
  let mark: string;
  try {
    mark = readFileSync(markPath, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  rmSync(markPath, { force: true });
  return mark === stateOf(dbPath);
}
