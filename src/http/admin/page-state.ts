import { lt } from "drizzle-orm";
import type { Db } from "../../db/client";
import { pageState } from "../../db/schema";

/** Removes page state (shown-once secrets, kept forms) past its expiry; the number removed. */
export async function prunePageState(db: Db, now = Date.now()): Promise<number> {
  return db.transaction(async (tx) => {
    const gone = await tx
      .delete(pageState)
      .where(lt(pageState.expiresAt, new Date(now)))
      .returning({ key: pageState.key });
    return gone.length;
  });
}
