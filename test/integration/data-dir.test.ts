import { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config";
import { DataDirLockedError } from "../../src/db/lock";
import { SchemaTooNewError } from "../../src/db/migrate";
import { migrations, pgMigrations } from "../../src/db/migrations.generated";
import { createLogger } from "../../src/log";
import { startServer } from "../../src/server";
import { startApi } from "../support/api";
import { BUN, MAIN, run, runCli, ServerProcess } from "../support/process";
import { setupAdmin, startTestServer, tempDir, type TestServer } from "../support/server";
import { describeOnSqlite, rowsOf, TEST_STORE, testDatabaseUrl, writeRows } from "../support/store";
import { SQL } from "bun";

setDefaultTimeout(30_000);

const dirs: string[] = [];
const newDataDir = () => {
  const d = tempDir("switchboard-data-");
  dirs.push(d);
  return join(d, "data");
};
const processes: ServerProcess[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) await p.kill();
});
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
/** The suite's store's migrations and where it records them. */
const embedded = TEST_STORE === "postgres" ? pgMigrations : migrations;
const MIGRATIONS_TABLE = TEST_STORE === "postgres" ? "drizzle.__drizzle_migrations" : "__drizzle_migrations";
/** The `--database-url` a process on this data directory is given: the suite's PostgreSQL database, if any. */
const urls = new Map<string, string>();
const urlOf = async (dataDir: string) => {
  if (!urls.has(dataDir)) urls.set(dataDir, await testDatabaseUrl());
  return urls.get(dataDir)!;
};
const storeArgs = async (dataDir: string) => {
  const url = await urlOf(dataDir);
  return url ? ["--database-url", url] : [];
};
const startOn = async (dataDir: string) => startTestServer({ dataDir, databaseUrl: await urlOf(dataDir) });
const serve = async (dataDir: string) => {
  const p = await ServerProcess.start([
    BUN,
    MAIN,
    "serve",
    "--port",
    "0",
    "--data-dir",
    dataDir,
    ...(await storeArgs(dataDir)),
  ]);
  processes.push(p);
  return p;
};

describe("a started server's database", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  test("has every embedded migration applied and recorded", async () => {
    const rows = await rowsOf<{ created_at: number }>(
      server.ctx.db,
      `SELECT created_at FROM ${MIGRATIONS_TABLE} ORDER BY created_at`,
    );
    expect(rows.map((r) => Number(r.created_at))).toEqual(embedded.map((m) => m.when));
    expect(await rowsOf(server.ctx.db, "SELECT count(*) AS n FROM roles")).toEqual([{ n: 3 }]);
  });

  test("foreign keys are enforced", async () => {
    await expect(
      writeRows(
        server.ctx.db,
        "INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen_at) VALUES ('x', 4242, 'c', 0, 0)",
      ),
    ).rejects.toThrow(/FOREIGN KEY|foreign key/);
  });

  test("the data directory is private and holds secret.key with mode 0600", () => {
    expect(statSync(server.dataDir).mode & 0o777).toBe(0o700);
    const key = join(server.dataDir, "secret.key");
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(key, "utf8").trim(), "base64")).toHaveLength(32);
  });

  test("migrations run again on a restart change nothing, and the key survives", async () => {
    const dataDir = newDataDir();
    const first = await startOn(dataDir);
    const key = readFileSync(join(dataDir, "secret.key"), "utf8");
    await first.close();
    const second = await startOn(dataDir);
    try {
      expect(await rowsOf(second.ctx.db, `SELECT count(*) AS n FROM ${MIGRATIONS_TABLE}`)).toEqual([
        { n: embedded.length },
      ]);
      expect(readFileSync(join(dataDir, "secret.key"), "utf8")).toBe(key);
    } finally {
      await second.close();
    }
  });

  describeOnSqlite("SQLite's own settings", "its SQLite connection", () => {
    test("uses WAL, synchronous=NORMAL, foreign keys and a busy timeout", () => {
      const pragma = (name: string) => server.ctx.db.$client.query(`PRAGMA ${name}`).values()[0]![0];
      expect(pragma("journal_mode")).toBe("wal");
      expect(pragma("synchronous")).toBe(1);
      expect(pragma("foreign_keys")).toBe(1);
      expect(pragma("busy_timeout")).toBeGreaterThanOrEqual(1000);
      expect(existsSync(join(server.dataDir, "switchboard.db-wal"))).toBe(true);
    });
  });
});

describe("a database written by a newer Switchboard", () => {
  const stampNewer = async () => {
    const dataDir = newDataDir();
    const server = await startOn(dataDir);
    await writeRows(
      server.ctx.db,
      `INSERT INTO ${MIGRATIONS_TABLE} (hash, created_at) VALUES ('from-the-future', ?)`,
      embedded.at(-1)!.when + 86_400_000,
    );
    await server.close();
    return dataDir;
  };
  /** The recorded migrations, read around the server (which refuses this database). */
  const migrationsRecorded = async (dataDir: string) => {
    const url = await urlOf(dataDir);
    if (url) {
      const sql = new SQL(url);
      try {
        return Number((await sql.unsafe(`SELECT count(*) AS n FROM ${MIGRATIONS_TABLE}`))[0].n);
      } finally {
        await sql.close();
      }
    }
    const db = new Database(join(dataDir, "switchboard.db"), { readonly: true });
    try {
      return db.query<{ n: number }, []>(`SELECT count(*) AS n FROM ${MIGRATIONS_TABLE}`).get()!.n;
    } finally {
      db.close();
    }
  };

  test("is refused at start with a clear message, and the lock is released", async () => {
    const dataDir = await stampNewer();
    const config = loadConfig({ port: "0", dataDir, databaseUrl: await urlOf(dataDir) }, {});
    const refused = await startServer(
      config,
      createLogger("error", () => {}),
    ).then(
      () => null,
      (err: Error) => err,
    );
    // On PostgreSQL the start-up error names the database and carries the refusal as its cause.
    expect(refused instanceof SchemaTooNewError || refused?.cause instanceof SchemaTooNewError).toBe(true);
    expect(refused?.message).toContain("written by a newer version of Switchboard");
    expect(existsSync(join(dataDir, "switchboard.lock"))).toBe(false);
  });

  test("stops `switchboard serve` with one line on stderr and a non-zero exit", async () => {
    const dataDir = await stampNewer();
    const r = await runCli(["serve", "--port", "0", "--data-dir", dataDir, ...(await storeArgs(dataDir))], {
      timeoutMs: 30_000,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("written by a newer version of Switchboard");
    expect(r.stdout).not.toContain("switchboard listening");
    expect(existsSync(join(dataDir, "switchboard.lock"))).toBe(false);
    // Nothing was changed: the future migration is still the newest.
    expect(await migrationsRecorded(dataDir)).toBe(embedded.length + 1);
  }, 60_000);
});

describe("the data directory lock", () => {
  test("a second server process on the same data directory is refused", async () => {
    const dataDir = newDataDir();
    const first = await serve(dataDir);
    expect(readFileSync(join(dataDir, "switchboard.lock"), "utf8").trim()).toBe(String(first.proc.pid));
    const second = await runCli(["serve", "--port", "0", "--data-dir", dataDir, ...(await storeArgs(dataDir))]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`in use by another Switchboard process (pid ${first.proc.pid})`);
    // The first one is untouched and keeps its lock.
    expect((await fetch(first.url + "/healthz")).status).toBe(200);
    expect(readFileSync(join(dataDir, "switchboard.lock"), "utf8").trim()).toBe(String(first.proc.pid));
    // A server in this process is refused too.
    await expect(startOn(dataDir)).rejects.toThrow(DataDirLockedError);
    expect(await first.stop()).toBe(0);
    expect(existsSync(join(dataDir, "switchboard.lock"))).toBe(false);
  });

  test("a stale lock left by a dead process is taken over", async () => {
    const dataDir = newDataDir();
    await (await startOn(dataDir)).close();
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    writeFileSync(join(dataDir, "switchboard.lock"), String(dead.pid));
    const server = await serve(dataDir);
    expect((await fetch(server.url + "/healthz")).status).toBe(200);
    expect(readFileSync(join(dataDir, "switchboard.lock"), "utf8").trim()).toBe(String(server.proc.pid));
    expect(await server.stop()).toBe(0);
  });
});

describeOnSqlite(
  "SQLite's files (the database, -wal, -shm) and a SQLite backup",
  "file modes in a data directory someone else created 0755 (a Docker volume, systemd's StateDirectory)",
  () => {
    const precreated = () => {
      const dataDir = newDataDir();
      mkdirSync(dataDir, { mode: 0o755 });
      chmodSync(dataDir, 0o755);
      return dataDir;
    };
    const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);
    const PRIVATE = ["switchboard.db", "switchboard.db-wal", "switchboard.db-shm", "secret.key"];

    test("the database, its -wal and -shm, the key and the lock are 0600", async () => {
      const dataDir = precreated();
      const server = await startTestServer({ dataDir });
      try {
        await setupAdmin(server); // a write
        for (const f of [...PRIVATE, "switchboard.lock"]) expect(`${f} ${modeOf(join(dataDir, f))}`).toBe(`${f} 600`);
        expect(modeOf(dataDir)).toBe("755"); // the operator's directory is left as it was
      } finally {
        await server.close();
      }
    });

    test("files an older build left 0644 are made 0600 at start", async () => {
      const dataDir = precreated();
      await (await startTestServer({ dataDir })).close();
      const db = new Database(join(dataDir, "switchboard.db"));
      db.exec("PRAGMA journal_mode = WAL");
      for (const f of ["switchboard.db", "switchboard.db-wal", "switchboard.db-shm"])
        chmodSync(join(dataDir, f), 0o644);
      const server = await startTestServer({ dataDir });
      try {
        db.close();
        for (const f of PRIVATE) expect(`${f} ${modeOf(join(dataDir, f))}`).toBe(`${f} 600`);
      } finally {
        await server.close();
      }
    });

    test("`switchboard serve` and `switchboard backup` create only 0600 files", async () => {
      const dataDir = precreated();
      const server = await serve(dataDir);
      const res = await fetch(server.url + "/setup");
      expect(res.status).toBe(200);
      const target = join(dataDir, "..", "backup.db");
      const r = await runCli(["backup", target, "--data-dir", dataDir]);
      expect(r.stderr).toBe("");
      expect(modeOf(target)).toBe("600");
      for (const f of [...PRIVATE, "switchboard.lock"]) expect(`${f} ${modeOf(join(dataDir, f))}`).toBe(`${f} 600`);
      expect(await server.stop()).toBe(0);
    });
  },
);

describeOnSqlite("a damaged SQLite file", "start-up refuses a damaged database", () => {
  // The same spread of damage as an attack on a build: 12 places, from the header to the last pages.
  test("at each of 12 offsets `switchboard serve` stops with one line naming the file and the way out", async () => {
    const dataDir = newDataDir();
    const api = await startApi({ dataDir });
    for (let i = 0; i < 120; i++)
      await api.call("POST", "/api/v1/users", {
        email: `p${i}@example.com`,
        firstname: `P${i}`,
        note: "n".repeat(400),
      });
    api.server.ctx.db.$client.exec("PRAGMA wal_checkpoint(TRUNCATE)"); // every page in the file, the WAL empty
    await api.server.close();
    const dbPath = join(dataDir, "switchboard.db");
    const pristine = readFileSync(dbPath);
    const pages = pristine.length / 4096;
    for (let k = 0; k < 12; k++) {
      const offset = Math.floor((pages * k) / 12) * 4096;
      const damaged = Buffer.from(pristine);
      damaged.fill(0xa5, offset, offset + 16);
      writeFileSync(dbPath, damaged);
      const r = await runCli(["serve", "--port", "0", "--data-dir", dataDir], { timeoutMs: 10_000 });
      const lines = r.stderr.trim().split("\n");
      expect({ offset, code: r.code, lines: lines.length }).toEqual({ offset, code: 1, lines: 1 });
      expect(lines[0]).toContain(`: ${dbPath}`);
      expect(lines[0]).toMatch(
        /^switchboard: (database is damaged|file is not a database|database disk image is malformed): /,
      );
      expect(lines[0]).toContain("restore a copy made with `switchboard backup`");
      expect(r.stdout).not.toContain("switchboard listening");
      expect(existsSync(join(dataDir, "switchboard.lock"))).toBe(false);
    }
  }, 60_000);
});

describeOnSqlite("a damaged SQLite file", "every page is checked unless a clean stop left the file", () => {
  const pagesChecked = (p: ServerProcess) =>
    p.logs.find((l) => l.msg === "switchboard listening")?.pages_checked as string | undefined;

  test("a clean stop lets the next start skip the page check; a crash or any change to the file does not", async () => {
    const dataDir = newDataDir();
    const first = await serve(dataDir);
    expect(pagesChecked(first)).toBe("all"); // a new database
    expect(await first.stop()).toBe(0);
    const clean = await serve(dataDir);
    expect(pagesChecked(clean)).toBe("no: unchanged since a clean stop");
    clean.proc.kill("SIGKILL");
    await clean.proc.exited;
    const afterCrash = await serve(dataDir);
    expect(pagesChecked(afterCrash)).toBe("all");
    expect(await afterCrash.stop()).toBe(0);
    // The same bytes written back: the change time moves, so the mark no longer fits.
    const dbPath = join(dataDir, "switchboard.db");
    writeFileSync(dbPath, readFileSync(dbPath));
    const afterCopy = await serve(dataDir);
    expect(pagesChecked(afterCopy)).toBe("all");
    expect(await afterCopy.stop()).toBe(0);
  });

  test("damage in the middle of the file after a clean stop is refused", async () => {
    const dataDir = newDataDir();
    const api = await startApi({ dataDir });
    for (let i = 0; i < 60; i++)
      await api.call("POST", "/api/v1/users", { email: `p${i}@example.com`, note: "n".repeat(400) });
    api.server.ctx.db.$client.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    await api.server.close();
    expect(existsSync(join(dataDir, "switchboard.clean-stop"))).toBe(true);
    const dbPath = join(dataDir, "switchboard.db");
    const bytes = readFileSync(dbPath);
    const middle = Math.floor(bytes.length / 4096 / 2) * 4096;
    const damaged = Buffer.from(bytes);
    damaged.fill(0xa5, middle, middle + 16);
    writeFileSync(dbPath, damaged);
    const r = await runCli(["serve", "--port", "0", "--data-dir", dataDir], { timeoutMs: 10_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^switchboard: database is damaged: /);
  });
});

describe("start-up errors name the path or address involved", () => {
  test("address in use: <host:port>", async () => {
    const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
    try {
      const dataDir = newDataDir();
      const r = await runCli([
        "serve",
        "--port",
        String(taken.port),
        "--data-dir",
        dataDir,
        ...(await storeArgs(dataDir)),
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`switchboard: address in use: 127.0.0.1:${taken.port}`);
    } finally {
      taken.stop(true);
    }
  });

  test("permission denied: <path>, and not a directory: <path>", async () => {
    const parent = newDataDir();
    mkdirSync(parent, { mode: 0o555 });
    chmodSync(join(parent, ".."), 0o755);
    // root ignores permission bits: the server is started as nobody, as a service user would be.
    const unprivileged =
      process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const denied = await run([
      ...unprivileged,
      BUN,
      MAIN,
      "serve",
      "--port",
      "0",
      "--data-dir",
      join(parent, "data"),
      ...(await storeArgs(parent)),
    ]);
    expect(denied.code).toBe(1);
    expect(denied.stderr.trim()).toBe(`switchboard: permission denied: ${join(parent, "data")}`);

    const file = join(parent, "..", "a-file");
    writeFileSync(file, "");
    const notDir = await runCli([
      "serve",
      "--port",
      "0",
      "--data-dir",
      join(file, "data"),
      ...(await storeArgs(parent)),
    ]);
    expect(notDir.code).toBe(1);
    expect(notDir.stderr.trim()).toBe(`switchboard: not a directory: ${join(file, "data")}`);
  });
});

describeOnSqlite("SQLite's database file", "start-up errors naming the SQLite file", () => {
  test("file is not a database: <path>", async () => {
    const dataDir = newDataDir();
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, "switchboard.db"), Buffer.alloc(8192, 7));
    const r = await runCli(["serve", "--port", "0", "--data-dir", dataDir], { timeoutMs: 10_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith(`switchboard: file is not a database: ${join(dataDir, "switchboard.db")}; restore`);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
