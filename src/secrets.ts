import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";

/**
 * Secret settings (provider keys, signing tokens, CRM passwords) are stored encrypted with AES-256-GCM
 * under a key file kept in the data directory (mode 0600). The database alone reveals nothing.
 */
export interface SecretBox {
  encrypt(plain: string): Promise<string>;
  /** Opens a sealed value; repeated calls for the same value are answered from memory. */
  decrypt(sealed: string): Promise<string>;
}

const PREFIX = "v1:";

/**
 * Reads the key file, creating it (0600) when missing. A key file readable by others is set back to
 * 0600; one we may not change (a read-only mount of a secret, a file another user owns) is used as it
 * is, with a warning when others can read it: refusing would stop every node sharing it.
 */
export function loadOrCreateKey(path: string, warn: (message: string) => void = () => {}): Uint8Array<ArrayBuffer> {
  if (!existsSync(path)) {
    writeFileSync(path, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") + "\n", {
      mode: 0o600,
      flag: "wx",
    });
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    try {
      chmodSync(path, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "EPERM" && code !== "EROFS" && code !== "EACCES") throw err;
      warn(`key file ${path} is readable by others (mode 0${mode.toString(8)}) and cannot be changed (${code})`);
    }
  }
  const key = Buffer.from(readFileSync(path, "utf8").trim(), "base64");
  if (key.length !== 32) throw new Error(`key file ${path} is damaged: expected 32 bytes of base64`);
  return new Uint8Array(key);
}

/** Sealed values kept opened: senders reveal the same secret for every call they make. */
const MAX_CACHED = 1000;

export async function createSecretBox(rawKey: Uint8Array<ArrayBuffer>): Promise<SecretBox> {
  const key = await crypto.subtle.importKey("raw", rawKey, "AES-GCM", false, ["encrypt", "decrypt"]);
  const open = async (value: string) => {
    if (!value.startsWith(PREFIX)) throw new Error("not an encrypted secret");
    const bytes = Buffer.from(value.slice(PREFIX.length), "base64");
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.subarray(0, 12) }, key, bytes.subarray(12));
    return new TextDecoder().decode(plain);
  };
  // Keyed by the sealed value, which a save always changes (fresh IV): an entry never goes stale, so
  // old ones only cost memory and the cache is simply emptied when full. A failure is not kept.
  const opened = new Map<string, Promise<string>>();
  return {
    async encrypt(plain) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = new Uint8Array(
        await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new TextEncoder().encode(plain)),
      );
      return PREFIX + Buffer.concat([iv, sealed]).toString("base64");
    },
    decrypt(value) {
      let plain = opened.get(value);
      if (!plain) {
        if (opened.size >= MAX_CACHED) opened.clear();
        plain = open(value);
        opened.set(value, plain);
        plain.catch(() => opened.delete(value));
      }
      return plain;
    },
  };
}

/** What pages and API answers show in place of a saved secret. */
export const SECRET_MASK = "••••••••";

/** How a saved secret is shown back: never the value, only that there is one and its last characters. */
export function maskSecret(plain: string): string {
  return plain.length < 20 ? SECRET_MASK : `${SECRET_MASK}${plain.slice(-4)}`;
}
