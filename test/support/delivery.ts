import { rmSync } from "node:fs";
import type { Db } from "../../src/db/client";
import { DeliveryEngine, type EngineOptions } from "../../src/delivery/engine";
import type { DeliveryHandler, HttpRequestSpec, Job } from "../../src/delivery/types";
import { createLogger } from "../../src/log";
import { openDataDir } from "../../src/server";
import { tempDir } from "./server";

export type EngineFixture = { db: Db; engine: DeliveryEngine; logs: string[]; dataDir: string; close(): Promise<void> };

/** A real engine on a fresh migrated database in a temp dir; close() stops it and removes the dir. */
export async function startEngine(options: Partial<EngineOptions> = {}, start = true): Promise<EngineFixture> {
  const dataDir = tempDir("switchboard-delivery-");
  const db = openDataDir(dataDir);
  const logs: string[] = [];
  const engine = new DeliveryEngine(
    db,
    createLogger("debug", (l) => logs.push(l)),
    options,
  );
  if (start) await engine.start();
  return {
    db,
    engine,
    logs,
    dataDir,
    async close() {
      await engine.stop(1_000);
      db.$client.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A handler posting the job's payload as JSON to `url` + "/" + job id, with the delivery id as a header. */
export function postTo(
  url: string,
  extra: Partial<DeliveryHandler> & { spec?: Partial<HttpRequestSpec> } = {},
): DeliveryHandler {
  const { spec, ...rest } = extra;
  return {
    facility: "webhook",
    prepare: async (job: Job) => ({
      method: "POST",
      url: `${url}/${job.id}`,
      headers: { "content-type": "application/json", "x-delivery-id": job.deliveryId },
      body: JSON.stringify(job.payload),
      timeoutMs: 5_000,
      ...spec,
    }),
    ...rest,
  };
}
