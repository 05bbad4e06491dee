import { closeSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { randomToken } from "../crypto-tokens";
import { CsvError, CsvParser } from "./csv";

/**
 * Uploaded CSV files go to disk as they arrive and are read back in pieces, so an import of any
 * allowed size costs a bounded amount of memory. They live in the data directory (private, 0600)
 * and are removed after use; files a crash left behind are removed at start (only old ones: nodes
 * sharing the data directory may be using the newer).
 */
const CHUNK_BYTES = 256 * 1024;
const LEFT_OVER_MS = 3_600_000;

export type Upload = { path: string; bytes: number; remove(): void };

const prepared = new Set<string>();

/** The data directory's upload directory; cleared of old files the first time this process asks for it. */
export function uploadsDir(dataDir: string): string {
  const dir = join(dataDir, "uploads");
  if (!prepared.has(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).mtimeMs < Date.now() - LEFT_OVER_MS) rmSync(path, { recursive: true, force: true });
    }
    prepared.add(dir);
  }
  return dir;
}

/** Writes a body to a new private file as it arrives (no body: an empty file). */
export async function spoolUpload(dir: string, body: ReadableStream<Uint8Array> | null): Promise<Upload> {
  const path = join(dir, `${randomToken(16)}.csv`);
  const remove = () => rmSync(path, { force: true });
  const file = await open(path, "wx", 0o600);
  let bytes = 0;
  try {
    const reader = body?.getReader();
    for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader!.read()) {
      await file.write(chunk.value);
      bytes += chunk.value.byteLength;
    }
  } catch (err) {
    remove();
    throw err;
  } finally {
    await file.close();
  }
  return { path, bytes, remove };
}

/** The rows of a CSV file, parsed as they are read. The file must be UTF-8. */
export function* readCsvFile(path: string): Generator<string[]> {
  const fd = openSync(path, "r");
  const buffer = Buffer.alloc(CHUNK_BYTES);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const parser = new CsvParser();
  const decode = (bytes?: Uint8Array) => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch {
      throw new CsvError("the file is not UTF-8 text; save it as CSV UTF-8", parser.line);
    }
  };
  try {
    for (let n: number; (n = readSync(fd, buffer)) > 0; ) yield* parser.push(decode(buffer.subarray(0, n)));
    yield* parser.push(decode());
    yield* parser.end();
  } finally {
    closeSync(fd);
  }
}
