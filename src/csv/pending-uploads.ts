import { and, eq, gt, lt } from "drizzle-orm";
import { open } from "node:fs/promises";
import { randomToken } from "../crypto-tokens";
import type { Db } from "../db/client";
import { pendingUploadChunks, pendingUploads } from "../db/schema";
import { spoolUpload, type Upload } from "./upload";

/**
 * An uploaded CSV file waits between its preview and the admin's "Import" in the database, in
 * pieces (one write transaction each, so a large file never holds the writer long), so the import
 * may reach any node. Taking it copies it back to a private local file, read as any upload is.
 */
const CHUNK_BYTES = 1024 * 1024;
const TTL_MS = 30 * 60_000;

type Owner = { kind: string; userId: number };

/** Removes previewed uploads nobody imported in time; the number removed. */
export async function pruneUploads(db: Db, now = Date.now()): Promise<number> {
  return db.transaction(async (tx) => {
    const gone = await tx
      .delete(pendingUploads)
      .where(lt(pendingUploads.expiresAt, new Date(now)))
      .returning({ id: pendingUploads.id });
    return gone.length;
  });
}

/** Stores a previewed upload for its owner; returns the id its "Import" form posts to. */
export async function keepUpload(db: Db, upload: Upload, owner: Owner, now = Date.now()): Promise<string> {
  const id = randomToken(16);
  await pruneUploads(db, now);
  await db.transaction(async (tx) => {
    await tx.insert(pendingUploads).values({ id, ...owner, bytes: upload.bytes, expiresAt: new Date(now + TTL_MS) });
  });
  const file = await open(upload.path, "r");
  try {
    const buffer = Buffer.alloc(CHUNK_BYTES);
    for (let seq = 0; ; seq++) {
      const { bytesRead } = await file.read(buffer, 0, CHUNK_BYTES);
      if (bytesRead === 0) break;
      const data = Buffer.from(buffer.subarray(0, bytesRead));
      await db.transaction(async (tx) => {
        await tx.insert(pendingUploadChunks).values({ uploadId: id, seq, data });
      });
    }
  } finally {
    await file.close();
  }
  return id;
}

/**
 * The upload kept under `id` for this owner, as a local file in `dir` (the caller removes it), and
 * gone from the database; null when there is none (expired, taken already, or someone else's).
 */
export async function takeUpload(db: Db, dir: string, id: string, owner: Owner, now = Date.now()) {
  const mine = and(
    eq(pendingUploads.id, id),
    eq(pendingUploads.kind, owner.kind),
    eq(pendingUploads.userId, owner.userId),
    gt(pendingUploads.expiresAt, new Date(now)),
  );
  const [found] = await db.select({ id: pendingUploads.id }).from(pendingUploads).where(mine).limit(1);
  if (!found) return null;
  const upload = await spoolUpload(dir, chunksOf(db, id));
  // Whoever deletes it takes it: an "Import" posted twice (two nodes at once) imports once.
  const taken = await db.transaction(async (tx) =>
    tx.delete(pendingUploads).where(mine).returning({ id: pendingUploads.id }),
  );
  if (taken.length) return upload;
  upload.remove();
  return null;
}

/** The stored pieces in order, one read each. */
function chunksOf(db: Db, id: string): ReadableStream<Uint8Array> {
  let seq = 0;
  return new ReadableStream({
    async pull(controller) {
      const [chunk] = await db
        .select({ data: pendingUploadChunks.data })
        .from(pendingUploadChunks)
        .where(and(eq(pendingUploadChunks.uploadId, id), eq(pendingUploadChunks.seq, seq++)))
        .limit(1);
      if (chunk) controller.enqueue(new Uint8Array(chunk.data));
      else controller.close();
    },
  });
}
