import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig, SETTINGS } from "../../src/config";

const errorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
};

describe("loadConfig", () => {
  test("defaults", () => {
    const c = loadConfig({}, {});
    expect(c).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      dataDir: "./data",
      baseUrl: "",
      logLevel: "info",
      bodyLimit: 1048576,
      sessionIdleMinutes: 480,
    });
    expect(c.publicUrl).toBe("http://127.0.0.1:8080");
    expect(c.secureCookies).toBe(false);
  });

  test("reads SWITCHBOARD_* variables", () => {
    const c = loadConfig(
      {},
      {
        SWITCHBOARD_HOST: "0.0.0.0",
        SWITCHBOARD_PORT: "9000",
        SWITCHBOARD_DATA_DIR: "/var/lib/sb",
        SWITCHBOARD_BASE_URL: "https://sb.example.com/",
        SWITCHBOARD_LOG_LEVEL: "warn",
        SWITCHBOARD_BODY_LIMIT: "4096",
        SWITCHBOARD_SESSION_IDLE_MINUTES: "15",
      },
    );
    expect(c).toMatchObject({
      host: "0.0.0.0",
      port: 9000,
      dataDir: "/var/lib/sb",
      logLevel: "warn",
      bodyLimit: 4096,
      sessionIdleMinutes: 15,
    });
    expect(c.baseUrl).toBe("https://sb.example.com");
    expect(c.publicUrl).toBe("https://sb.example.com");
    expect(c.secureCookies).toBe(true);
  });

  test("flags beat environment variables", () => {
    const env = { SWITCHBOARD_PORT: "9000", SWITCHBOARD_LOG_LEVEL: "loud", SWITCHBOARD_DATA_DIR: "/env" };
    const c = loadConfig({ port: "9001", logLevel: "debug" }, env);
    expect(c.port).toBe(9001);
    expect(c.logLevel).toBe("debug"); // the bad env value is never looked at
    expect(c.dataDir).toBe("/env");
  });

  test("an empty environment variable counts as unset", () => {
    expect(loadConfig({}, { SWITCHBOARD_PORT: "", SWITCHBOARD_LOG_LEVEL: "" })).toMatchObject({
      port: 8080,
      logLevel: "info",
    });
  });

  test("an http base URL keeps cookies non-Secure; IPv6 hosts are bracketed", () => {
    expect(loadConfig({ baseUrl: "http://sb.lan:8080" }, {}).secureCookies).toBe(false);
    expect(loadConfig({ host: "::1", port: "81" }, {}).publicUrl).toBe("http://[::1]:81");
  });

  test("port 0 is allowed (a free port is picked)", () => {
    expect(loadConfig({ port: "0" }, {}).port).toBe(0);
  });

  const bad: [string, Record<string, string>, Record<string, string>][] = [
    ["port", { port: "abc" }, {}],
    ["port", { port: "" }, {}],
    ["port", { port: "80abc" }, {}],
    ["port", { port: "1e3" }, {}],
    ["port", { port: "-1" }, {}],
    ["port", { port: "65536" }, {}],
    ["port", {}, { SWITCHBOARD_PORT: "http" }],
    ["logLevel", {}, { SWITCHBOARD_LOG_LEVEL: "loud" }],
    ["logLevel", { logLevel: "trace" }, {}],
    ["baseUrl", { baseUrl: "ftp://x" }, {}],
    ["baseUrl", { baseUrl: "not a url" }, {}],
    ["databaseUrl", { databaseUrl: "mysql://u:p@db/x" }, {}],
    ["databaseUrl", {}, { SWITCHBOARD_DATABASE_URL: "db.lan:5432" }],
    ["bodyLimit", { bodyLimit: "10" }, {}],
    ["bodyLimit", { bodyLimit: "1.5" }, {}],
    ["sessionIdleMinutes", { sessionIdleMinutes: "0" }, {}],
    ["host", { host: "" }, {}],
    ["trustedProxy", { trustedProxy: "proxy.lan" }, {}],
    ["trustedProxy", {}, { SWITCHBOARD_TRUSTED_PROXY: "10.0.0.1, 10.0.0.0/40" }],
  ];
  for (const [setting, flags, env] of bad) {
    test(`a bad ${setting} (${JSON.stringify({ ...flags, ...env })}) gets a one-line refusal naming it`, () => {
      const err = errorOf(() => loadConfig(flags, env));
      const s = SETTINGS[setting as keyof typeof SETTINGS];
      expect(err.message).toContain(s.flag);
      expect(err.message).toContain(s.env);
      expect(err.message).not.toContain("\n");
    });
  }

  test("--trusted-proxy is off by default and takes comma-separated addresses and CIDR ranges", () => {
    expect(loadConfig({}, {}).trustedProxy).toEqual([]);
    expect(loadConfig({}, { SWITCHBOARD_TRUSTED_PROXY: "10.0.0.1, 172.16.0.0/12,::1" }).trustedProxy).toEqual([
      "10.0.0.1",
      "172.16.0.0/12",
      "::1",
    ]);
  });

  test("--database-url takes a postgres:// or postgresql:// URL; absent means SQLite", () => {
    expect(loadConfig({}, {}).databaseUrl).toBe("");
    const url = "postgresql://sb:pw@db.lan:5432/switchboard";
    expect(loadConfig({}, { SWITCHBOARD_DATABASE_URL: url }).databaseUrl).toBe(url);
    expect(loadConfig({ databaseUrl: "postgres://db/sb" }, {}).databaseUrl).toBe("postgres://db/sb");
  });

  test("a refused database URL is not echoed (it may hold a password)", () => {
    const message = errorOf(() => loadConfig({ databaseUrl: "mysql://sb:hunter2@db/x" }, {})).message;
    expect(message).toContain("--database-url");
    expect(message).toContain("postgres://");
    expect(message).not.toContain("hunter2");
  });

  test("the message shows the offending value", () => {
    expect(errorOf(() => loadConfig({ port: "abc" }, {})).message).toContain('"abc"');
  });
});
