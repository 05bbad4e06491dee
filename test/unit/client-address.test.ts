import { describe, expect, test } from "bun:test";
import { clientAddress, isAddressOrRange, trustedProxies } from "../../src/http/client-address";

describe("clientAddress", () => {
  const proxies = trustedProxies(["10.0.0.0/8", "::1"]);

  test("without trusted proxies the peer is the client, whatever X-Forwarded-For says", () => {
    expect(clientAddress("192.0.2.1", "198.51.100.7", trustedProxies([]))).toBe("192.0.2.1");
    expect(clientAddress("::ffff:192.0.2.1", null, null)).toBe("192.0.2.1");
    expect(clientAddress(undefined, null, null)).toBe("unknown");
  });

  test("X-Forwarded-For from a peer that is not a trusted proxy is ignored", () => {
    expect(clientAddress("192.0.2.1", "198.51.100.7", proxies)).toBe("192.0.2.1");
  });

  test("from a trusted proxy, the rightmost hop that is not a trusted proxy is the client", () => {
    expect(clientAddress("10.1.2.3", "198.51.100.7", proxies)).toBe("198.51.100.7");
    expect(clientAddress("10.1.2.3", "6.6.6.6, 198.51.100.7", proxies)).toBe("198.51.100.7");
    expect(clientAddress("10.1.2.3", "6.6.6.6, 198.51.100.7, 10.9.9.9", proxies)).toBe("198.51.100.7");
    expect(clientAddress("::1", "2001:db8::5", proxies)).toBe("2001:db8::5");
    expect(clientAddress("::ffff:10.1.2.3", "[2001:db8::5]:4711", proxies)).toBe("2001:db8::5");
    expect(clientAddress("10.1.2.3", "198.51.100.7:4711", proxies)).toBe("198.51.100.7");
  });

  test("a hop that is not an address stops the walk at the last trusted one", () => {
    expect(clientAddress("10.1.2.3", "198.51.100.7, not-an-ip", proxies)).toBe("10.1.2.3");
    expect(clientAddress("10.1.2.3", "unknown, 10.9.9.9", proxies)).toBe("10.9.9.9");
    expect(clientAddress("10.1.2.3", "", proxies)).toBe("10.1.2.3");
  });

  test("only addresses and CIDR ranges are accepted as trusted proxies", () => {
    for (const ok of ["127.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "::1", "fd00::/8", "2001:db8::/128"])
      expect(isAddressOrRange(ok), ok).toBe(true);
    for (const bad of ["localhost", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8/8", "10.0.0.0/x", "1.2.3"])
      expect(isAddressOrRange(bad), bad).toBe(false);
  });
});
