import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

type ReceivedRequest = {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
};
type Reply = { status?: number; headers?: Record<string, string>; body?: BodyInit; delayMs?: number };
/** Decides each answer; called with the request and how many came before it. */
export type Script = (req: ReceivedRequest, index: number) => Reply | Promise<Reply>;

export type Receiver = {
  url: string;
  requests: ReceivedRequest[];
  /** Replaces the script for the requests that follow. */
  answer(script: Script): void;
  /** Resolves once `n` requests arrived (or rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  stop(): Promise<void>;
};

/** A small HTTP(S) server on 127.0.0.1 that records requests and answers as scripted (default 200). */
export function startReceiver(script: Script = () => ({ status: 200 }), tls?: { cert: string; key: string }): Receiver {
  const requests: ReceivedRequest[] = [];
  let current = script;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...(tls ? { tls } : {}),
    async fetch(request) {
      const url = new URL(request.url);
      const headers: Record<string, string> = {};
      for (const [k, v] of request.headers) headers[k] = v;
      const req = {
        method: request.method,
        path: url.pathname + url.search,
        headers,
        body: await request.text(),
        at: Date.now(),
      };
      const index = requests.length;
      requests.push(req);
      for (const w of waiters.filter((w) => requests.length >= w.n)) w.resolve();
      const reply = await current(req, index);
      if (reply.delayMs) await Bun.sleep(reply.delayMs);
      return new Response(reply.body ?? "ok", { status: reply.status ?? 200, headers: reply.headers });
    },
  });
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${server.port}`,
    requests,
    answer(next) {
      current = next;
    },
    waitFor(n, timeoutMs = 20_000) {
      if (requests.length >= n) return Promise.resolve(requests);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${requests.length} of ${n} requests arrived within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve(requests);
          },
        });
      });
    },
    stop: () => server.stop(true),
  };
}

/** A self-signed certificate for 127.0.0.1, made with openssl at test time. */
export function selfSignedCert(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-cert-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    return { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns true (robust on a busy machine: generous deadline, no tight timing). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}
