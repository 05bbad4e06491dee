import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSecretBox, loadOrCreateKey, maskSecret } from "../../src/secrets";
import { tempDir } from "../support/server";

const dirs: string[] = [];
const keyPath = () => {
  const dir = tempDir();
  dirs.push(dir);
  return join(dir, "secret.key");
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const randomKey = () => crypto.getRandomValues(new Uint8Array(32));

describe("key file", () => {
  test("is created with 32 random bytes and mode 0600, and read back the same", () => {
    const path = keyPath();
    const key = loadOrCreateKey(path);
    expect(key).toHaveLength(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadOrCreateKey(path)).toEqual(key);
    expect(loadOrCreateKey(keyPath())).not.toEqual(key);
  });

  test("a key file that became readable by others is set back to 0600", () => {
    const path = keyPath();
    loadOrCreateKey(path);
    chmodSync(path, 0o644);
    loadOrCreateKey(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  /**
   * A key file on a read-only mount (a mounted secret shared by every node): chmod is refused there
   * (EROFS), as it is for a file another user owns (EPERM). Run in a child process inside its own user
   * and mount namespace (`unshare`), where a read-only tmpfs can be mounted without privileges.
   */
  const onReadOnlyMount = (mode: number) => {
    const dir = tempDir();
    dirs.push(dir);
    const key = Buffer.from(randomKey()).toString("base64");
    const load = `const { loadOrCreateKey } = await import(${JSON.stringify(join(import.meta.dir, "../../src/secrets.ts"))});
      const warnings = [];
      const key = loadOrCreateKey(process.argv[1], (m) => warnings.push(m));
      console.log(JSON.stringify({ key: Buffer.from(key).toString("base64"), warnings }));`;
    const script = [
      `mount -t tmpfs none "$1"`,
      `printf '%s\n' "$2" > "$1/secret.key"`,
      `chmod ${mode.toString(8)} "$1/secret.key"`,
      `mount -o remount,ro "$1"`,
      `exec "$3" -e "$4" "$1/secret.key"`,
    ].join(" && ");
    const child = Bun.spawnSync(["unshare", "-rm", "sh", "-c", script, "sh", dir, key, process.execPath, load]);
    expect(child.stderr.toString()).toBe("");
    expect(child.exitCode).toBe(0);
    return { written: key, ...(JSON.parse(child.stdout.toString()) as { key: string; warnings: string[] }) };
  };

  test("a key file readable only by us that cannot be changed (read-only mount) is used as it is", () => {
    const loaded = onReadOnlyMount(0o400);
    expect(loaded.key).toBe(loaded.written);
    expect(loaded.warnings).toEqual([]);
  });

  test("a key file readable by others that cannot be changed is used, with a warning naming it", () => {
    const loaded = onReadOnlyMount(0o644);
    expect(loaded.key).toBe(loaded.written);
    expect(loaded.warnings).toHaveLength(1);
    expect(loaded.warnings[0]).toMatch(
      /key file \S+secret\.key is readable by others \(mode 0644\) and cannot be changed \(EROFS\)/,
    );
  });

  test("a damaged key file is refused", () => {
    const path = keyPath();
    writeFileSync(path, "dG9vIHNob3J0\n", { mode: 0o600 });
    expect(() => loadOrCreateKey(path)).toThrow(/damaged/);
    expect(readFileSync(path, "utf8")).toBe("dG9vIHNob3J0\n"); // never overwritten
  });
});

describe("SecretBox", () => {
  test("round-trips text, including unicode and the empty string", async () => {
    const box = await createSecretBox(randomKey());
    for (const plain of ["sk_live_1234567890abcdef", 'pässwörd ✓ "quoted"\n', ""]) {
      const sealed = await box.encrypt(plain);
      expect(sealed.startsWith("v1:")).toBe(true);
      expect(sealed).not.toContain(plain || "\u0000");
      expect(await box.decrypt(sealed)).toBe(plain);
    }
  });

  test("uses a fresh IV every time: the same secret never encrypts the same way", async () => {
    const box = await createSecretBox(randomKey());
    const sealed = await Promise.all(Array.from({ length: 20 }, () => box.encrypt("same secret")));
    expect(new Set(sealed).size).toBe(20);
    const ivs = sealed.map((s) => Buffer.from(s.slice(3), "base64").subarray(0, 12).toString("hex"));
    expect(new Set(ivs).size).toBe(20);
  });

  test("tampering is detected", async () => {
    const box = await createSecretBox(randomKey());
    const sealed = await box.encrypt("webhook signing token");
    const bytes = Buffer.from(sealed.slice(3), "base64");
    for (const at of [0, 12, bytes.length - 1]) {
      const tampered = Buffer.from(bytes);
      tampered[at]! ^= 1;
      await expect(box.decrypt("v1:" + tampered.toString("base64"))).rejects.toThrow();
    }
    await expect(box.decrypt("v1:" + bytes.subarray(0, bytes.length - 1).toString("base64"))).rejects.toThrow();
    await expect(box.decrypt("webhook signing token")).rejects.toThrow(/not an encrypted secret/);
  });

  test("one cache for every sender: a sealed value is opened once, a failure is not kept", async () => {
    const box = await createSecretBox(randomKey());
    const sealed = await box.encrypt("crm password");
    const opened = spyOn(crypto.subtle, "decrypt");
    try {
      expect(await Promise.all([box.decrypt(sealed), box.decrypt(sealed), box.decrypt(sealed)])).toEqual([
        "crm password",
        "crm password",
        "crm password",
      ]);
      expect(opened).toHaveBeenCalledTimes(1);
      const other = await box.encrypt("crm password");
      expect(await box.decrypt(other)).toBe("crm password");
      expect(opened).toHaveBeenCalledTimes(2);
      const broken = `${sealed.slice(0, -4)}AAAA`;
      await expect(box.decrypt(broken)).rejects.toThrow();
      await expect(box.decrypt(broken)).rejects.toThrow();
      expect(opened).toHaveBeenCalledTimes(4);
    } finally {
      opened.mockRestore();
    }
  });

  test("another key cannot decrypt", async () => {
    const sealed = await (await createSecretBox(randomKey())).encrypt("crm password");
    await expect((await createSecretBox(randomKey())).decrypt(sealed)).rejects.toThrow();
  });
});

describe("maskSecret", () => {
  test("never reveals any character of a short secret", () => {
    for (let n = 0; n < 20; n++) {
      const secret = "abcdefghijklmnopqrstuvwxyz".slice(0, n);
      const masked = maskSecret(secret);
      expect(masked).toMatch(/^•+$/);
      expect(masked.length).toBeGreaterThanOrEqual(8); // the length is not revealed either
    }
  });

  test("shows only the last four characters of a long secret", () => {
    const masked = maskSecret("sk_live_ABCDEFGHIJKLMNOP1234");
    expect(masked.endsWith("1234")).toBe(true);
    expect(masked).not.toContain("sk_live");
    expect(masked.replace(/•/g, "")).toBe("1234");
  });
});
