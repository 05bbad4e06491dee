import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { startApi, type Api } from "../support/api";
import { BUN, MAIN, ServerProcess } from "../support/process";
import { createToken, setupAdmin, tempDir } from "../support/server";
import { missingUsers, TEST_STORE } from "../support/store";

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.server.close());

/** A counter from /metrics. */
async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${api.server.url}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, "m").exec(text)?.[1]);
}

describe("REST writes share the group commit", () => {
  test("concurrent creates share commits; exactly the bad ones fail, each with its own error", async () => {
    const taken = await api.call("POST", "/api/v1/users", { email: "taken@example.com" });
    expect(taken.status).toBe(201);
    const org = await api.call("POST", "/api/v1/organizations", { name: "Acme" });
    const writesBefore = await metric("switchboard_writes_total");
    const commitsBefore = await metric("switchboard_write_commits_total");

    type Case = { body: Record<string, unknown>; status: number; field?: string };
    const cases: Case[] = [];
    for (let i = 0; i < 48; i++) {
      if (i % 8 === 3) cases.push({ body: { email: "taken@example.com" }, status: 409, field: "email" });
      else if (i % 8 === 5)
        cases.push({
          body: { email: `bad-org-${i}@example.com`, organization_id: 999_999 },
          status: 422,
          field: "organization_id",
        });
      else if (i % 8 === 7) cases.push({ body: { email: "not an email" }, status: 422, field: "email" });
      else cases.push({ body: { email: `p${i}@example.com`, organization_id: org.body.id }, status: 201 });
    }
    // Two writers racing for the same new email: the batch runs them in order, the second is refused.
    cases.push(
      { body: { email: "twice@example.com" }, status: 201 },
      {
        body: { email: "twice@example.com" },
        status: 409,
        field: "email",
      },
    );

    const answers = await Promise.all(cases.map((c) => api.call("POST", "/api/v1/users", c.body)));
    // On PostgreSQL batches commit side by side, so either of the racing pair may be the one created, and
    // the loser is refused by a unique index: the login's (it defaults to the email) or the email's.
    if (TEST_STORE === "postgres") {
      if (answers.at(-1)!.status === 201) cases.push(...cases.splice(-2).reverse());
      const loser = cases.findIndex((c) => c.body.email === "twice@example.com" && c.status === 409);
      const field = answers[loser]!.body.error?.details?.[0]?.field;
      if (field === "login") cases[loser]!.field = "login";
    }
    expect(answers.map((a) => a.status)).toEqual(cases.map((c) => c.status));
    for (const [i, c] of cases.entries()) {
      const answer = answers[i]!;
      if (c.status === 201) expect(answer.body.email).toBe(c.body.email as string);
      else expect(answer.body.error.details.map((d: { field: string }) => d.field)).toEqual([c.field]);
    }

    // What each caller was told is what is stored: every created person, with their own event, and nobody else.
    const stored = (await api.call("GET", "/api/v1/users?limit=200")).body.data.map((u: { email: string }) => u.email);
    const created = cases.filter((c) => c.status === 201).map((c) => c.body.email);
    expect(stored.filter((e: string) => e !== "admin@example.com" && e !== "taken@example.com").sort()).toEqual(
      created.sort(),
    );
    for (const [i, c] of cases.entries()) {
      if (c.status !== 201) continue;
      const events = (await api.call("GET", `/api/v1/users/${answers[i]!.body.id}/events`)).body.data;
      expect(events.map((e: { type: string }) => e.type)).toEqual(["user.created"]);
    }

    // They shared commits: fewer transactions than writes (the metrics requests' own writes count too).
    const writes = (await metric("switchboard_writes_total")) - writesBefore;
    const commits = (await metric("switchboard_write_commits_total")) - commitsBefore;
    expect(writes).toBeGreaterThanOrEqual(cases.length - 6);
    // On PostgreSQL up to half the pool's connections commit batches side by side, so batches are smaller.
    expect(commits).toBeLessThan(TEST_STORE === "sqlite" ? writes / 2 : writes);
  });
});

describe("crash safety", () => {
  test("every answered write survives kill -9", async () => {
    const dataDir = tempDir("switchboard-group-commit-crash-");
    const server = await ServerProcess.start([BUN, MAIN, "serve", "--port", "0", "--data-dir", dataDir]);
    try {
      const token = await createToken(await setupAdmin(server));
      const answered: number[] = [];
      let killed = false;
      const create = async (i: number) => {
        const res = await fetch(`${server.url}/api/v1/users`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ email: `crash-${i}@example.com` }),
        }).catch(() => null);
        if (res?.status !== 201 || killed) return;
        answered.push((await res.json()).id);
        // Killed the moment enough answers are in, with many writes still in flight.
        if (answered.length === 100) {
          killed = true;
          server.proc.kill("SIGKILL");
        }
      };
      await Promise.all(Array.from({ length: 400 }, (_, i) => create(i)));
      await server.proc.exited;
      expect(answered.length).toBe(100);
      expect(missingUsers(dataDir, answered)).toEqual([]);
    } finally {
      await server.kill();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
