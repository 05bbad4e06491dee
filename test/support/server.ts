import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type SettingName } from "../../src/config";
import { createLogger } from "../../src/log";
import { startServer, type RunningServer } from "../../src/server";
import { testDatabaseUrl } from "./store";

export type TestServer = RunningServer & { dataDir: string; logs: string[]; close(): Promise<void> };

export function tempDir(prefix = "switchboard-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

const databases = new Map<string, string>();

/**
 * Starts the real server on a free loopback port with a fresh database (a SQLite file, or with
 * TEST_STORE=postgres a fresh PostgreSQL database); logs are captured, not printed.
 */
export async function startTestServer(settings: Partial<Record<SettingName, string>> = {}): Promise<TestServer> {
  const dataDir = settings.dataDir ?? tempDir();
  // A restart on the same data directory finds the same database, as on SQLite.
  const databaseUrl = settings.databaseUrl ?? (databases.get(dataDir) || (await testDatabaseUrl()));
  databases.set(dataDir, databaseUrl);
  const config = loadConfig({ host: "127.0.0.1", port: "0", logLevel: "debug", ...settings, dataDir, databaseUrl }, {});
  const logs: string[] = [];
  const server = await startServer(
    config,
    createLogger(config.logLevel, (line) => logs.push(line)),
  );
  return {
    ...server,
    dataDir,
    logs,
    async close() {
      await server.stop();
      if (!settings.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A tiny cookie-keeping HTTP client, like a browser without JavaScript. */
export class Browser {
  cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  async request(path: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size)
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("; "));
    let body = init.body;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers.set("content-type", "application/x-www-form-urlencoded");
    }
    const res = await fetch(this.base + path, { ...init, body, headers, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = decodeURIComponent(pair!.slice(eq + 1));
      if (/max-age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  get(path: string) {
    return this.request(path);
  }

  /** The page a 303 answer sends the browser to (the answer itself when it is no redirect). */
  async follow(res: Response): Promise<Response> {
    const location = res.headers.get("location");
    return res.status === 303 && location ? this.get(location) : res;
  }

  /** Posts a form with the CSRF token the page at `from` carries, as a browser would. */
  async submit(from: string, action: string, form: Record<string, string>): Promise<Response> {
    const page = await (await this.get(from)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
    if (!csrf) throw new Error(`no CSRF token on ${from}`);
    return this.request(action, { method: "POST", form: { _csrf: csrf, ...form } });
  }
}

export const ADMIN = { email: "admin@example.com", password: "correct horse battery" };

/** A browser signed in as the first admin (created through /setup). */
export async function setupAdmin(server: { url: string }): Promise<Browser> {
  const browser = new Browser(server.url);
  const res = await browser.submit("/setup", "/setup", {
    email: ADMIN.email,
    password: ADMIN.password,
    firstname: "Ada",
    lastname: "Admin",
  });
  if (res.status !== 303) throw new Error(`setup failed with ${res.status}: ${await res.text()}`);
  return browser;
}

/** An API token created through the UI, as an admin would. */
export async function createToken(browser: Browser, name = "tests"): Promise<string> {
  const res = await browser.follow(await browser.submit("/tokens", "/tokens", { name }));
  const token = /id="new-token">([^<]+)</.exec(await res.text())?.[1];
  if (!token) throw new Error("token not shown after creation");
  return token;
}

/** A browser signed in through the login form; fails the test when sign-in does not succeed. */
export async function signIn(
  server: { url: string },
  email = ADMIN.email,
  password = ADMIN.password,
): Promise<Browser> {
  const browser = new Browser(server.url);
  const res = await browser.submit("/login", "/login", { email, password });
  if (res.status !== 303 || !browser.cookies.has("sb_session"))
    throw new Error(`sign-in as ${email} failed with ${res.status}`);
  return browser;
}

/** The CSRF token a page carries in its forms. */
export function csrfOf(page: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!token) throw new Error("no CSRF token on the page");
  return token;
}

/** The Set-Cookie header a response sent for one cookie name. */
export function setCookie(res: Response, name: string): string | undefined {
  return res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
}
