import type { Feature } from "../feature";
import type { AppContext } from "../http/context";
import { writeKeyPages } from "./admin";
import { segmentApi } from "./api";
import { IngestRate } from "./rate";
import { pruneSeenMessages } from "./segment";

/** Segment-compatible ingest: /v1/identify and /v1/batch with write keys, the write-key pages, messageId pruning. */
export function ingestFeature(ctx: AppContext): Feature & { rate: IngestRate } {
  const rate = new IngestRate();
  return {
    name: "ingest",
    rate,
    schedules: [
      {
        name: "segment-message-ids",
        pattern: "0 */15 * * * *",
        run: async () => {
          const pruned = await pruneSeenMessages(ctx.db);
          if (pruned) ctx.log.info("pruned segment message ids", { pruned_message_ids: pruned });
        },
      },
    ],
    routes: [segmentApi(ctx, rate), writeKeyPages(ctx)],
  };
}
