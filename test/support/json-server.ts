import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export type JsonServer = { url: string; get(path: string): Promise<any>; stop(): Promise<void> };

/** A free TCP port on loopback (the OS picks it; json-server takes a port number only). */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => done(port));
    });
  });
}

/** The real json-server (npm) as a CRM, on a free loopback port with a temporary db.json. */
export async function startJsonServer(collections: Record<string, unknown[]> = { people: [] }): Promise<JsonServer> {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-json-server-"));
  const db = join(dir, "db.json");
  writeFileSync(db, JSON.stringify(collections));
  const port = await freePort();
  const bin = resolve(import.meta.dir, "../../node_modules/json-server/lib/cli/bin.js");
  const child: ChildProcess = spawn("node", [bin, db, "--port", String(port), "--host", "127.0.0.1", "--quiet"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/db`)).ok) break;
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`json-server did not start: ${output}`);
    }
    await Bun.sleep(100);
  }
  return {
    url,
    get: async (path) => (await fetch(url + path)).json(),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
