import { eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { settings } from "../db/schema";
import { StartupError } from "../startup-error";

/**
 * Every node of a cluster must seal and open secrets with the same key. The database keeps a
 * verifier of the key it was first started with (an HMAC of a fixed label: equal for equal keys,
 * telling nothing about the key), and a node with another key refuses to start before writing anything.
 */
const VERIFIER_KEY = "secret_key_verifier";
const LABEL = "switchboard secret key verifier v1";
const WHAT_TO_DO =
  "give every node the key file the database was set up with " +
  "(copy it from the first node and point --secret-key-file or SWITCHBOARD_SECRET_KEY_FILE at it)";

async function verifierOf(rawKey: Uint8Array<ArrayBuffer>): Promise<string> {
  const key = await crypto.subtle.importKey("raw", rawKey, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return Buffer.from(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(LABEL))).toString("base64");
}

async function storedVerifier(db: Db): Promise<string | null> {
  const [row] = await db.select().from(settings).where(eq(settings.key, VERIFIER_KEY)).limit(1);
  return typeof row?.value === "string" ? row.value : null;
}

/** Whether the database already knows its key (then a missing key file must not be created afresh). */
export async function databaseHasKey(db: Db): Promise<boolean> {
  return (await storedVerifier(db)) !== null;
}

export function missingKeyFile(keyFile: string): StartupError {
  return new StartupError(`secret key file ${keyFile} is missing but this database was set up with one: ${WHAT_TO_DO}`);
}

/** Records the key's verifier on first start; refuses a key other than the recorded one. */
export async function checkSecretKey(db: Db, rawKey: Uint8Array<ArrayBuffer>, keyFile: string): Promise<void> {
  const verifier = await verifierOf(rawKey);
  let stored = await storedVerifier(db);
  if (stored === null) {
    // Two nodes starting at once on a fresh database: the first insert wins, the other compares against it.
    await db.transaction(async (tx) => {
      await tx.insert(settings).values({ key: VERIFIER_KEY, value: verifier }).onConflictDoNothing();
    });
    stored = await storedVerifier(db);
  }
  if (stored !== verifier)
    throw new StartupError(
      `secret key in ${keyFile} does not match the key this database was set up with: ${WHAT_TO_DO}`,
    );
}
