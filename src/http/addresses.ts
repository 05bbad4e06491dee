import { isIP } from "node:net";

/** URL hostnames come bracketed for IPv6 ("[::1]"); compare them bare. */
export const bareHost = (hostname: string) => hostname.replace(/^\[|\]$/g, "").toLowerCase();

/** Whether a host name or address means this machine (127/8, ::1, IPv4-mapped loopback, localhost, the unspecified address). */
export function isLoopbackHost(hostname: string): boolean {
  const h = bareHost(hostname);
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const v4 = h.startsWith("::ffff:") && isIP(h.slice(7)) === 4 ? h.slice(7) : h;
  if (isIP(v4) === 4) return v4.startsWith("127.") || v4 === "0.0.0.0";
  return isIP(h) === 6 && (h === "::1" || h === "::" || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(h));
}
