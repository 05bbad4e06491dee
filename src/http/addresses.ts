import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";

/** URL hostnames come bracketed for IPv6 ("[::1]") and may end in the root's dot ("localhost."); compare them bare. */
const bareHost = (hostname: string) =>
  hostname
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "")
    .toLowerCase();

/**
 * An address as a connection reaches it: IPv4-mapped IPv6 as IPv4 (URL parsing writes
 * [::ffff:127.0.0.1] as [::ffff:7f00:1]), and the unspecified address as loopback (connecting to
 * 0.0.0.0 or :: reaches this machine).
 */
function unmapped(address: string): string {
  const a = address.toLowerCase();
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
  if (hex)
    return [
      parseInt(hex[1]!, 16) >> 8,
      parseInt(hex[1]!, 16) & 255,
      parseInt(hex[2]!, 16) >> 8,
      parseInt(hex[2]!, 16) & 255,
    ].join(".");
  if (a.startsWith("::ffff:") && isIP(a.slice(7)) === 4) return a.slice(7);
  return a === "0.0.0.0" ? "127.0.0.1" : a === "::" ? "::1" : a;
}

/**
 * Whether a host name or address means this machine (127/8, ::1, IPv4-mapped
 * loopback, localhost, the unspecified address).
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = bareHost(hostname);
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const a = isIP(h) ? unmapped(h) : h;
  if (isIP(a) === 4) return a.startsWith("127.");
  return isIP(a) === 6 && (a === "::1" || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(a));
}

export type ListenAddress = { host: string; port: number; baseUrl: string };

/** The self-target check for a server's context, read when called (the real port is known only once listening). */
export const selfTargetCheck = (ctx: { config: ListenAddress }) => (url: string) => selfTargetReason(url, ctx.config);

const portOf = (u: URL) => Number(u.port || (u.protocol === "https:" ? 443 : 80));
const isUnspecified = (host: string) => ["0.0.0.0", "::", ""].includes(bareHost(host));

/** Every address of this machine's interfaces (for a server listening on all of them). */
function interfaceAddresses(): Set<string> {
  return new Set(
    Object.values(networkInterfaces())
      .flat()
      .map((i) => unmapped(i!.address.toLowerCase().split("%")[0]!)),
  );
}

async function addressesOf(hostname: string): Promise<string[]> {
  const h = bareHost(hostname);
  if (isIP(h)) return [unmapped(h)];
  try {
    return (await lookup(h, { all: true })).map((a) => unmapped(a.address.toLowerCase()));
  } catch {
    // Unresolvable now: not provably us; the hop limit still cuts a loop.
    return [];
  }
}

/**
 * Why `url` reaches this server itself, or null: its host and port are the base URL's, or it
 * resolves to an address we listen on (loopback and every interface when listening on all).
 */
async function selfTargetReason(url: string, self: ListenAddress): Promise<string | null> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  const port = portOf(u);
  if (self.baseUrl) {
    const b = new URL(self.baseUrl);
    if (bareHost(b.hostname) === bareHost(u.hostname) && portOf(b) === port)
      return `it is this server's own base URL (${b.host})`;
  }
  if (port !== self.port) return null;
  const listening = isUnspecified(self.host) ? null : new Set(await addressesOf(self.host));
  const mine = listening ?? interfaceAddresses();
  for (const address of await addressesOf(u.hostname)) {
    if (mine.has(address) || (listening === null && isLoopbackHost(address)))
      return `it reaches this server's own listening address (${bareHost(u.hostname)}:${port})`;
  }
  return null;
}
