import { rmSync } from "node:fs";
import type { Db } from "../../src/db/client";
import { DeliveryEngine, type EngineOptions } from "../../src/delivery/engine";
import type { DeliveryHandler, HttpRequestSpec, Job } from "../../src/delivery/types";
import { createLogger } from "../../src/log";
import { openStore } from "../../src/server";
import { tempDir } from "./server";
import { testDatabaseUrl } from "./store";

export type EngineFixture = {
  db: Db;
  engine: DeliveryEngine;
  logs: string[];
  dataDir: string;
  /** The PostgreSQL database's URL, or "" on SQLite (the database is in `dataDir`). */
  databaseUrl: string;
  close(): Promise<void>;
};

/**
 * A real engine on a fresh migrated database of the suite's store (SQLite in a temp dir, or a fresh
 * PostgreSQL database); close() stops it, closes the store and removes the dir.
 */
export async function startEngine(options: Partial<EngineOptions> = {}, start = true): Promise<EngineFixture> {
  const dataDir = tempDir("switchboard-delivery-");
  const databaseUrl = await testDatabaseUrl();
  const db = await openStore({ dataDir, databaseUrl });
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
    databaseUrl,
    async close() {
      await engine.stop(1_000);
      await db.close();
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
