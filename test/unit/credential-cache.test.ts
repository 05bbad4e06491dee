import { describe, expect, test } from "bun:test";
import { openDatabase } from "../../src/db/client";
import { CredentialCache, credentialsChanged } from "../../src/domain/credential-cache";

const db = openDatabase(":memory:");
const always = () => true;

describe("credentials kept in memory", () => {
  test("a success is kept and answered from memory; what `keep` refuses is read every time", async () => {
    const cache = new CredentialCache<{ id: number }>(db);
    let reads = 0;
    const read = async () => (reads++, { id: 1 });
    expect(await cache.read("a", read, always)).toEqual({ id: 1 });
    expect(cache.get("a")).toEqual({ id: 1 });
    expect(reads).toBe(1);
    expect(await cache.read("b", read, () => false)).toEqual({ id: 1 });
    expect(cache.get("b")).toBeUndefined();
    expect(await cache.read("c", async () => undefined, always)).toBeUndefined();
    expect(cache.get("c")).toBeUndefined();
  });

  test("a change drops every kept credential at once, and again at its commit", async () => {
    const cache = new CredentialCache<string>(db);
    await cache.read("k", async () => "before", always);
    let duringTx: string | undefined = "unset";
    await db.transaction(async (tx) => {
      credentialsChanged(tx);
      duringTx = cache.get("k");
      // Read while the change is not committed yet: it sees the old row, so it must not outlive the commit.
      await cache.read("k", async () => "before", always);
    });
    expect(duringTx).toBeUndefined();
    expect(cache.get("k")).toBeUndefined();
  });

  test("a change that rolls back still drops (harmless), and a read it overtook is answered but not kept", async () => {
    const cache = new CredentialCache<string>(db);
    let release!: () => void;
    const slowRead = cache.read(
      "k",
      async () => {
        await new Promise<void>((r) => (release = r));
        return "stale";
      },
      always,
    );
    await db
      .transaction(async (tx) => {
        credentialsChanged(tx);
        throw new Error("rolled back");
      })
      .catch(() => undefined);
    release();
    expect(await slowRead).toBe("stale");
    expect(cache.get("k")).toBeUndefined();
  });

  test("on SQLite a kept credential is read again after a second (other nodes sharing the file)", async () => {
    const cache = new CredentialCache<string>(db);
    await cache.read("k", async () => "v", always);
    expect(cache.get("k")).toBe("v");
    await Bun.sleep(1_050);
    expect(cache.get("k")).toBeUndefined();
  });
});
