import { BlockList, isIP } from "node:net";

/**
 * The client's address, the one logs, sessions and sign-in throttling record. Behind a reverse
 * proxy every request comes from the proxy; only when the direct peer is a configured trusted proxy
 * (--trusted-proxy) is X-Forwarded-For read, from the right: the first hop that is not itself a
 * trusted proxy is the client. Anyone else can write anything into that header, so it is ignored.
 */
export type TrustedProxies = BlockList | null;

/** An IP address or CIDR range ("10.0.0.0/8", "fd00::/8"), as --trusted-proxy takes them. */
export function isAddressOrRange(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split("/");
  const family = isIP(address!);
  if (!family || rest.length) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

export function trustedProxies(entries: string[]): TrustedProxies {
  if (!entries.length) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split("/") as [string, string?];
    const type = isIP(address) === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

/** "1.2.3.4", "::ffff:1.2.3.4", "1.2.3.4:5678", "[::1]:80" → the bare address; null when not an address. */
function bareAddress(value: string): string | null {
  let v = value.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(v);
  if (bracketed) v = bracketed[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(v)) v = v.slice(0, v.lastIndexOf(":"));
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(v)) v = v.slice(7);
  return isIP(v) ? v : null;
}

const isTrusted = (trusted: BlockList, address: string) =>
  trusted.check(address, isIP(address) === 4 ? "ipv4" : "ipv6");

export function clientAddress(peer: string | undefined, forwardedFor: string | null, trusted: TrustedProxies): string {
  let client = (peer && bareAddress(peer)) ?? "unknown";
  if (!trusted || !forwardedFor || !isTrusted(trusted, client)) return client;
  for (const hop of forwardedFor.split(",").reverse()) {
    const address = bareAddress(hop);
    // A hop that is not an address was not written by a proxy we trust: stop at the last good one.
    if (!address) break;
    client = address;
    if (!isTrusted(trusted, address)) break;
  }
  return client;
}
