import { Database } from "bun:sqlite";
import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json";
import { SETTINGS } from "../../src/config";
import { runCli, ServerProcess, BUN, MAIN } from "../support/process";
import { signIn, startTestServer, tempDir } from "../support/server";
import { describeOnSqlite, rowsOf, testDatabaseUrl, writeRows } from "../support/store";

// Each test starts processes; bunfig's [test] timeout is not read by bun test, so it is set here.
setDefaultTimeout(30_000);

const dirs: string[] = [];
const newDir = () => {
  const d = tempDir("switchboard-cli-");
  dirs.push(d);
  return d;
};
const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.kill();
});
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A data directory and the suite's store for it: on the PostgreSQL pass a fresh database, which every
 * command (`args`) and the test server (`databaseUrl`) are given; on SQLite the file in the data dir.
 */
const newStore = async () => {
  const dataDir = join(newDir(), "data");
  const databaseUrl = await testDatabaseUrl();
  return {
    dataDir,
    databaseUrl,
    args: ["--data-dir", dataDir, ...(databaseUrl ? ["--database-url", databaseUrl] : [])],
  };
};

describe("switchboard version and --help", () => {
  test("version prints the package version", async () => {
    const r = await runCli(["version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`switchboard ${pkg.version}`);
  });

  test("--help lists the commands and every setting with its flag and variable", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    for (const cmd of ["serve", "admin create", "--password-stdin", "token create", "backup <file>", "version"])
      expect(r.stdout).toContain(cmd);
    for (const s of Object.values(SETTINGS)) {
      expect(r.stdout).toContain(s.flag);
      expect(r.stdout).toContain(s.env);
    }
    expect((await runCli(["help"])).stdout).toBe(r.stdout);
  });

  test("an unknown command or option is a usage error (exit 2)", async () => {
    const cmd = await runCli(["frobnicate"]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain('unknown command "frobnicate"');
    const opt = await runCli(["serve", "--colour", "blue"]);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toContain("--colour");
  });
});

describe("switchboard serve", () => {
  test("is the default command; settings come from SWITCHBOARD_* variables", async () => {
    const cwd = newDir();
    const databaseUrl = await testDatabaseUrl();
    const env = {
      SWITCHBOARD_PORT: "0",
      SWITCHBOARD_DATA_DIR: "store",
      SWITCHBOARD_BASE_URL: "https://sb.example.com/",
      SWITCHBOARD_BODY_LIMIT: "2048",
      ...(databaseUrl ? { SWITCHBOARD_DATABASE_URL: databaseUrl } : {}),
    };
    const server = await ServerProcess.start([BUN, MAIN], { cwd, env });
    servers.push(server);
    expect((await fetch(server.url + "/healthz")).status).toBe(200);
    expect(existsSync(join(cwd, "store", databaseUrl ? "secret.key" : "switchboard.db"))).toBe(true);
    expect(server.logs.find((l) => l.msg === "switchboard listening")?.public_url).toBe("https://sb.example.com");
    expect((await fetch(server.url + "/api/v1/tokens", { method: "POST", body: "x".repeat(4096) })).status).toBe(413);
    expect(await server.stop()).toBe(0);
  });

  test("the data directory defaults to ./data; flags beat variables", async () => {
    const cwd = newDir();
    const databaseUrl = await testDatabaseUrl();
    const store = databaseUrl ? ["--database-url", databaseUrl] : [];
    const server = await ServerProcess.start([BUN, MAIN, "serve", "--port", "0", "--log-level=debug", ...store], {
      cwd,
      env: { SWITCHBOARD_PORT: "1", SWITCHBOARD_LOG_LEVEL: "loud" },
    });
    servers.push(server);
    expect(existsSync(join(cwd, "data", databaseUrl ? "secret.key" : "switchboard.db"))).toBe(true);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await fetch(server.url + "/healthz");
    expect(await server.stop()).toBe(0);
    expect(server.logs.some((l) => l.msg === "request" && l.path === "/healthz")).toBe(true);
  });

  const badSettings: [string, string[], Record<string, string>][] = [
    ["--port", ["--port", "abc"], {}],
    ["--log-level", [], { SWITCHBOARD_LOG_LEVEL: "loud" }],
    ["--base-url", ["--base-url", "ftp://x"], {}],
    ["--body-limit", [], { SWITCHBOARD_BODY_LIMIT: "lots" }],
    ["--session-idle-minutes", ["--session-idle-minutes", "-5"], {}],
    ["--session-max-hours", [], { SWITCHBOARD_SESSION_MAX_HOURS: "0" }],
  ];
  for (const [flag, args, env] of badSettings) {
    test(`a bad ${flag} stops start-up with one stderr line naming it`, async () => {
      const cwd = newDir();
      const r = await runCli([...args, "--data-dir", join(cwd, "data")], { cwd, env });
      expect(r.code).not.toBe(0);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toStartWith("switchboard: ");
      expect(lines[0]).toContain(flag);
      expect(r.stdout).not.toContain("listening");
      expect(existsSync(join(cwd, "data"))).toBe(false); // nothing was created
    });
  }

  test("a flag without its value is a usage error", async () => {
    const r = await runCli(["serve", "--port"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--port needs a value");
  });
});

describe("switchboard admin create", () => {
  test("creates an administrator from a password on stdin, who can then sign in", async () => {
    const { dataDir, databaseUrl, args } = await newStore();
    const r = await runCli(
      [
        "admin",
        "create",
        "--email",
        "Ops@Example.com",
        "--password-stdin",
        "--firstname",
        "Olga",
        "--lastname",
        "Ops",
        ...args,
      ],
      {
        stdin: "a long passphrase\n",
      },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("created administrator ops@example.com");
    expect(r.stdout).not.toContain("a long passphrase");

    const server = await startTestServer({ dataDir, databaseUrl });
    try {
      await signIn(server, "ops@example.com", "a long passphrase");
      // With an admin, the first-run page is closed.
      expect((await fetch(server.url + "/setup", { redirect: "manual" })).headers.get("location")).toBe("/login");
      const [row] = await rowsOf<{ firstname: string; lastname: string; password_hash: string }>(
        server.ctx.db,
        "SELECT firstname, lastname, password_hash FROM users",
      );
      expect(row).toMatchObject({ firstname: "Olga", lastname: "Ops" });
      expect(row!.password_hash).toStartWith("$argon2id$");
    } finally {
      await server.close();
    }
  });

  test("refuses a short password or a taken email with a message naming the field", async () => {
    const { args } = await newStore();
    const short = await runCli(["admin", "create", "--email", "a@example.com", "--password-stdin", ...args], {
      stdin: "short\n",
    });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain("password must be at least 12 characters");
    const common = await runCli(["admin", "create", "--email", "a@example.com", "--password-stdin", ...args], {
      stdin: "qwerty123456\n",
    });
    expect(common.code).toBe(1);
    expect(common.stderr).toContain("password is one of the most common passwords");
    const ok = await runCli(["admin", "create", "--email", "a@example.com", "--password-stdin", ...args], {
      stdin: "long enough password",
    });
    expect(ok.code).toBe(0);
    const dup = await runCli(["admin", "create", "--email", "A@example.com", "--password-stdin", ...args], {
      stdin: "long enough password",
    });
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain("email already taken");
  });

  test("needs --email and --password-stdin", async () => {
    const { args } = await newStore();
    const noEmail = await runCli(["admin", "create", "--password-stdin", ...args], {
      stdin: "long enough password",
    });
    expect(noEmail.code).toBe(2);
    expect(noEmail.stderr).toContain("--email");
    const noStdin = await runCli(["admin", "create", "--email", "a@example.com", ...args]);
    expect(noStdin.code).toBe(2);
    expect(noStdin.stderr).toContain("--password-stdin");
  });
  test("records a user.created event and closes /setup for good", async () => {
    const { dataDir, databaseUrl, args } = await newStore();
    const r = await runCli(["admin", "create", "--email", "first@example.com", "--password-stdin", ...args], {
      stdin: "a long passphrase",
    });
    expect(r.code).toBe(0);
    const server = await startTestServer({ dataDir, databaseUrl });
    try {
      const events = await rowsOf<{ type: string; changes: string }>(
        server.ctx.db,
        "SELECT type, changes FROM events WHERE object_type = 'user'",
      );
      expect(events.map((e) => e.type)).toEqual(["user.created"]);
      expect(JSON.parse(events[0]!.changes).role_ids).toEqual([null, [1]]);
      expect(events[0]!.changes).not.toContain("passphrase");
      await writeRows(server.ctx.db, "DELETE FROM user_roles");
    } finally {
      await server.close();
    }
    // Even without any role row left, a restarted server keeps /setup closed.
    const restarted = await startTestServer({ dataDir, databaseUrl });
    try {
      expect((await fetch(restarted.url + "/setup", { redirect: "manual" })).headers.get("location")).toBe("/login");
    } finally {
      await restarted.close();
    }
  });
});

describe("switchboard token create", () => {
  test("prints only the new token on stdout; the token works and belongs to the admin", async () => {
    const { dataDir, databaseUrl, args } = await newStore();
    expect(
      (
        await runCli(["admin", "create", "--email", "ops@example.com", "--password-stdin", ...args], {
          stdin: "a long passphrase",
        })
      ).code,
    ).toBe(0);
    const r = await runCli(["token", "create", "--admin", "OPS@example.com", "--name", "provisioning", ...args]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sbt_[A-Za-z0-9_-]+\n$/);
    const token = r.stdout.trim();
    const server = await startTestServer({ dataDir, databaseUrl });
    try {
      const res = await fetch(server.url + "/api/v1/tokens", { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const { data } = (await res.json()) as { data: { name: string; owner: { email: string } }[] };
      expect(data).toHaveLength(1);
      expect(data[0]).toMatchObject({ name: "provisioning", owner: { email: "ops@example.com" } });
      expect(JSON.stringify(data)).not.toContain(token);
    } finally {
      await server.close();
    }
  });

  test("refuses an unknown admin (exit 1) and missing options (exit 2), printing nothing on stdout", async () => {
    const { dataDir, databaseUrl, args } = await newStore();
    expect(
      (
        await runCli(["admin", "create", "--email", "ops@example.com", "--password-stdin", ...args], {
          stdin: "a long passphrase",
        })
      ).code,
    ).toBe(0);
    const unknown = await runCli(["token", "create", "--admin", "nobody@example.com", "--name", "x", ...args]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toContain("no active administrator with the email nobody@example.com");
    const noName = await runCli(["token", "create", "--admin", "ops@example.com", ...args]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain("--name");
    const noAdmin = await runCli(["token", "create", "--name", "x", ...args]);
    expect(noAdmin.code).toBe(2);
    expect(noAdmin.stderr).toContain("--admin");
    const blank = await runCli(["token", "create", "--admin", "ops@example.com", "--name", " ", ...args]);
    expect(blank.code).toBe(1);
    expect(blank.stderr).toContain("name is required");
    const server = await startTestServer({ dataDir, databaseUrl });
    try {
      expect(await rowsOf(server.ctx.db, "SELECT count(*) AS n FROM api_tokens")).toEqual([{ n: 0 }]);
    } finally {
      await server.close();
    }
  }, 60_000); // six commands and a server start: slow on a loaded machine
});

describeOnSqlite(
  "the database file, its damage and VACUUM INTO backups are SQLite's (PostgreSQL is backed up with pg_dump)",
  "switchboard backup and a damaged SQLite file",
  () => {
    test("an empty database beside an existing secret.key stops start-up with one line naming the file", async () => {
      const dataDir = join(newDir(), "data");
      const server = await startTestServer({ dataDir });
      await server.close();
      for (const f of ["-wal", "-shm"]) rmSync(join(dataDir, `switchboard.db${f}`), { force: true });
      await Bun.write(join(dataDir, "switchboard.db"), "");
      const r = await runCli(["serve", "--port", "0", "--data-dir", dataDir]);
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(join(dataDir, "switchboard.db"));
      expect(lines[0]).toContain("restore the database from a backup");
      const create = await runCli(
        ["admin", "create", "--email", "a@example.com", "--password-stdin", "--data-dir", dataDir],
        { stdin: "a long passphrase" },
      );
      expect(create.code).toBe(1);
      expect(create.stderr).toContain("restore the database from a backup");
    });

    test("check reads every page: ok for a sound file, one line naming the damage otherwise", async () => {
      const dataDir = join(newDir(), "data");
      const server = await startTestServer({ dataDir });
      await server.close();
      const dbPath = join(dataDir, "switchboard.db");
      const sound = await runCli(["check", "--data-dir", dataDir]);
      expect(sound).toMatchObject({ code: 0, stderr: "" });
      expect(sound.stdout.trim()).toBe(`database ok: ${dbPath} (every page read)`);
      const bytes = readFileSync(dbPath);
      const page = Math.floor(bytes.length / 4096 / 2) * 4096;
      writeFileSync(dbPath, Buffer.from(bytes).fill(0xa5, page, page + 16));
      const damaged = await runCli(["check", "--data-dir", dataDir]);
      expect(damaged.code).toBe(1);
      expect(damaged.stderr.trim().split("\n")).toHaveLength(1);
      expect(damaged.stderr).toStartWith(`switchboard: database is damaged: ${dbPath} (`);
      expect(damaged.stderr).toContain("restore a copy made with `switchboard backup`");
    });

    test("writes a consistent copy while the server runs", async () => {
      const dir = newDir();
      const dataDir = join(dir, "data");
      const server = await startTestServer({ dataDir });
      try {
        const { setupAdmin } = await import("../support/server");
        await setupAdmin(server);
        const target = join(dir, "backup.db");
        const r = await runCli(["backup", target, "--data-dir", dataDir]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("backup written");
        // A single self-contained file: no WAL needed beside it.
        expect(readdirSync(dir).filter((f) => f.startsWith("backup"))).toEqual(["backup.db"]);
        const copy = new Database(target, { readonly: true });
        try {
          expect(copy.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
          expect(copy.query("SELECT email FROM users").all()).toEqual([{ email: "admin@example.com" }]);
          expect(
            copy.query<{ n: number }, []>("SELECT count(*) AS n FROM __drizzle_migrations").get()!.n,
          ).toBeGreaterThan(0);
        } finally {
          copy.close();
        }
        // The server kept running.
        expect((await fetch(server.url + "/healthz")).status).toBe(200);
      } finally {
        await server.close();
      }
    });

    test("refuses to overwrite a file, and a directory without a database", async () => {
      const dir = newDir();
      const exists = join(dir, "exists.db");
      await Bun.write(exists, "precious");
      const server = await startTestServer({ dataDir: join(dir, "data") });
      await server.close();
      const over = await runCli(["backup", exists, "--data-dir", join(dir, "data")]);
      expect(over.code).not.toBe(0);
      expect(over.stderr).toContain("already exists");
      expect(await Bun.file(exists).text()).toBe("precious");
      const none = await runCli(["backup", join(dir, "b.db"), "--data-dir", join(dir, "empty")]);
      expect(none.code).not.toBe(0);
      expect(none.stderr).toContain("no database");
      expect(existsSync(join(dir, "empty"))).toBe(false);
      const noTarget = await runCli(["backup", "--data-dir", join(dir, "data")]);
      expect(noTarget.code).toBe(2);
      expect(noTarget.stderr).toContain("backup needs a target file");
    });
  },
);

describe("switchboard backup on PostgreSQL", () => {
  test("is refused with the pg_dump hint, touching nothing", async () => {
    const dir = newDir();
    const target = join(dir, "backup.db");
    const r = await runCli([
      "backup",
      target,
      "--data-dir",
      join(dir, "data"),
      "--database-url",
      "postgres://127.0.0.1:1/x",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("pg_dump");
    expect(existsSync(target)).toBe(false);
  });
});
