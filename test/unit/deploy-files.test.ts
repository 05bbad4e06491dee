/**
 * The production files (compose.yaml, deploy/Caddyfile, deploy/switchboard@.service) and the README
 * name only settings the binary accepts, with values it accepts: a renamed flag fails here, not on
 * an admin's first start.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, SETTINGS, type SettingName } from "../../src/config";

const ROOT = join(import.meta.dir, "../..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const byFlag = new Map<string, SettingName>(Object.entries(SETTINGS).map(([name, s]) => [s.flag, name as SettingName]));
const ENVS = new Set<string>(Object.values(SETTINGS).map((s) => s.env));

/** `--flag value` pairs as the CLI reads them; an unknown flag is returned as such. */
function settingFlags(args: string[]): { flags: Partial<Record<SettingName, string>>; unknown: string[] } {
  const flags: Partial<Record<SettingName, string>> = {};
  const unknown: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--")) continue;
    const name = byFlag.get(arg);
    if (name) flags[name] = args[++i] ?? "";
    else unknown.push(arg);
  }
  return { flags, unknown };
}

/** Compose's ${VAR:-default} and ${VAR:?error}, as an admin's .env would fill them. */
const interpolate = (value: string) =>
  value.replace(/\$\{\w+:([-?])([^}]*)\}/g, (_, kind: string, rest: string) => (kind === "-" ? rest : "secret"));

describe("compose.yaml", () => {
  const compose = Bun.YAML.parse(read("compose.yaml")) as {
    services: Record<string, { command?: string[]; environment?: Record<string, string>; image?: string }>;
  };
  const nodes = Object.entries(compose.services).filter(([, s]) => s.command?.[0] === "serve");

  test("parses, with PostgreSQL, three nodes and a load balancer in front of all three", () => {
    expect(compose.services.postgres?.image).toStartWith("postgres:");
    expect(nodes.map(([name]) => name)).toEqual(["node1", "node2", "node3"]);
    expect(compose.services.postgres?.environment?.POSTGRES_INITDB_ARGS).toContain("--locale=C.UTF-8");
    const caddyfile = read("deploy/Caddyfile");
    for (const [name] of nodes) expect(caddyfile).toContain(`${name}:8080`);
  });

  test("each node names only settings the binary accepts, with values it accepts", () => {
    const ids = new Set<string>();
    for (const [, node] of nodes) {
      const { flags, unknown } = settingFlags(node.command!.slice(1).map(interpolate));
      expect(unknown).toEqual([]);
      const env = Object.fromEntries(Object.entries(node.environment ?? {}).map(([k, v]) => [k, interpolate(v)]));
      expect(Object.keys(env).filter((k) => k.startsWith("SWITCHBOARD_") && !ENVS.has(k))).toEqual([]);
      const config = loadConfig(flags, env);
      expect(config.databaseUrl).toStartWith("postgres://switchboard:secret@postgres:5432/");
      expect(config.secretKeyFile).toBe("/run/secrets/switchboard_key");
      ids.add(config.nodeId);
    }
    expect(ids.size).toBe(3);
  });
});

describe("deploy/switchboard@.service", () => {
  const unit = read("deploy/switchboard@.service");
  // %i: the instance, %H: the host name.
  const resolved = unit.replaceAll("%i", "2").replaceAll("%H", "host");

  test("ExecStart and the environment name only settings the binary accepts, with values it accepts", () => {
    const exec = /^ExecStart=\S+ serve (.*)$/m.exec(resolved)?.[1];
    expect(exec).toBeDefined();
    const { flags, unknown } = settingFlags(exec!.split(/\s+/));
    expect(unknown).toEqual([]);
    // The example cluster.env in the comments, and the Environment= lines.
    const env = Object.fromEntries(
      [...resolved.matchAll(/^(?:#\s+|Environment=)(SWITCHBOARD_\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    expect(Object.keys(env).filter((k) => !ENVS.has(k))).toEqual([]);
    const config = loadConfig(flags, env);
    expect(config).toMatchObject({ port: 8082, nodeId: "host-2", host: "0.0.0.0" });
    expect(config.databaseUrl).toStartWith("postgres://");
    expect(config.secretKeyFile).toBe("/etc/switchboard/secret.key");
  });
});

describe("README", () => {
  const readme = read("README.md");

  test("names only environment variables the binary reads", () => {
    const named = new Set(readme.match(/\bSWITCHBOARD_[A-Z_]+\b/g));
    expect([...named].filter((v) => !ENVS.has(v))).toEqual([]);
  });

  test("its serve and migrate-to-postgres commands use only flags the binary accepts", () => {
    const commands = readme.split("\n").filter((l) => /switchboard (serve|migrate-to-postgres)\b/.test(l));
    expect(commands.length).toBeGreaterThan(2);
    for (const line of commands) expect(settingFlags(line.split(/\s+/)).unknown).toEqual([]);
  });
});
