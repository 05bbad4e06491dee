import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi, type Api } from "../support/api";
import { rowsOf } from "../support/store";

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.server.close());

const postCsv = async (path: string, csv: string) => {
  const res = await fetch(api.server.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${api.token}`, "content-type": "text/csv" },
    body: csv,
  });
  return { status: res.status, body: await res.json() };
};
const count = async () => (await rowsOf<{ n: number }>(api.server.ctx.db, "SELECT count(*) AS n FROM users"))[0]!.n;

describe("CSV import and export", () => {
  test("a preview writes nothing; a bad row refuses the whole commit with a per-row report", async () => {
    await api.call("POST", "/api/v1/organizations", { name: "Globex" });
    const before = await count();
    const good =
      "email,firstname,lastname,organization,vip,roles\n" +
      'hank@globex.example,Hank,Scorpio,Globex,yes,"Customer,Agent"\n' +
      'marge@example.com,Marge,"Simpson, née Bouvier",,no,\n';
    const preview = await postCsv("/api/v1/users/import?dry_run=true", good);
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ dry_run: true, committed: false, created: 2, errors: [] });
    expect(await count()).toBe(before);
    const bad = good + "not-an-email,X,Y,,maybe,\nhank2@globex.example,,,Nowhere Inc,,\n";
    const refused = await postCsv("/api/v1/users/import", bad);
    expect(refused.status).toBe(422);
    expect(refused.body.committed).toBe(false);
    expect(refused.body.errors.map((e: any) => [e.line, e.field])).toEqual([
      [4, "email"],
      [4, "vip"],
      [5, "organization"],
    ]);
    expect(await count()).toBe(before);
    const done = await postCsv("/api/v1/users/import", good);
    expect(done.body).toMatchObject({ committed: true, created: 2 });
    const hank = (await api.call("GET", "/api/v1/users?email=hank@globex.example")).body.data[0];
    expect(hank).toMatchObject({ organization: "Globex", vip: true, roles: ["Agent", "Customer"] });
    const provenance = (await api.call("GET", `/api/v1/users/${hank.id}/provenance`)).body;
    expect(provenance.firstname.source).toBe("import");
    const again = await postCsv("/api/v1/users/import", "email,phone\nhank@globex.example,555\nmarge@example.com,\n");
    expect(again.body).toMatchObject({ committed: true, created: 0, updated: 1, unchanged: 1 });
    expect(
      (await postCsv("/api/v1/users/import", "email,password\nx@example.com,secret\n")).body.error.details[0],
    ).toEqual({ field: "password", message: "is not a known column" });
  });

  test("export streams every user with the columns an import reads back", async () => {
    const res = await fetch(api.server.url + "/api/v1/users/export.csv", {
      headers: { authorization: `Bearer ${api.token}` },
    });
    expect(res.headers.get("content-type")).toContain("text/csv");
    const lines = (await res.text()).trim().split("\r\n");
    expect(lines[0]!.startsWith("id,login,email,firstname")).toBe(true);
    expect(lines.length).toBe((await count()) + 1);
    expect(lines.some((l) => l.includes('"Simpson, née Bouvier"'))).toBe(true);
  });

  test("organizations import and export", async () => {
    const r = await postCsv(
      "/api/v1/organizations/import",
      "name,domain,shared\nVandelay Industries,vandelay.example,false\n",
    );
    expect(r.body).toMatchObject({ committed: true, created: 1 });
    const csv = await (
      await fetch(api.server.url + "/api/v1/organizations/export.csv", {
        headers: { authorization: `Bearer ${api.token}` },
      })
    ).text();
    expect(csv).toContain("Vandelay Industries,vandelay.example,false,false");
  });
});

describe("formula guard through the real export and import", () => {
  test("cells a spreadsheet could run export with an apostrophe; importing them restores each exactly", async () => {
    await api.call("POST", "/api/v1/custom_fields", {
      object_type: "user",
      name: "remark",
      label: "Remark",
      type: "text",
    });
    const spellings = [
      "\n=1+1",
      " =1+1",
      "\uff1d1+1",
      "\uff0b1",
      "\uff0d1",
      "\uff20SUM(A1)",
      "|cmd /c calc",
      "%0A=1+1",
      "\t=1",
      '=HYPERLINK("x")',
      "'=1",
      "plain",
    ];
    const ids: number[] = [];
    for (const [i, s] of spellings.entries()) {
      // Built-in fields are trimmed; the custom text field keeps leading blanks.
      const res = await api.call("POST", "/api/v1/users", {
        email: `formula${i}@example.com`,
        firstname: s.trim(),
        remark: s,
      });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const exported = await (
      await fetch(api.server.url + "/api/v1/users/export.csv", { headers: { authorization: `Bearer ${api.token}` } })
    ).text();
    const { parseCsv } = await import("../../src/csv/csv");
    const [header, ...rows] = parseCsv(exported);
    const col = (name: string) => header!.indexOf(name);
    for (const [i, s] of spellings.entries()) {
      const row = rows.find((r) => r[col("email")] === `formula${i}@example.com`)!;
      const guarded = s !== "plain";
      expect(row[col("remark")]!.startsWith("'"), JSON.stringify(s)).toBe(guarded);
      expect(row[col("firstname")]!.startsWith("'"), JSON.stringify(s)).toBe(guarded);
    }
    // Where the list separator is ";" (Excel in much of Europe), a ";" splits an unquoted
    // cell: the rest would be a cell of its own.
    const semicolon = (
      await api.call("POST", "/api/v1/users", {
        email: "semicolon@example.com",
        lastname: "Smith;=1+1",
        remark: "a; @SUM(A1)",
      })
    ).body;
    expect(semicolon.id).toBeNumber();
    const again = await (
      await fetch(api.server.url + "/api/v1/users/export.csv", { headers: { authorization: `Bearer ${api.token}` } })
    ).text();
    const line = again.split("\r\n").find((l) => l.includes("semicolon@example.com"))!;
    expect(line).toContain('"Smith;=1+1"');
    expect(line).toContain('"a; @SUM(A1)"');
    await api.call("DELETE", `/api/v1/users/${semicolon.id}`);
    for (const id of ids) await api.call("PATCH", `/api/v1/users/${id}`, { firstname: "changed", remark: "changed" });
    const imported = await postCsv("/api/v1/users/import", exported);
    expect(imported.status).toBe(200);
    for (const [i, s] of spellings.entries()) {
      const u = (await api.call("GET", `/api/v1/users/${ids[i]}`)).body;
      expect([u.firstname, u.remark], JSON.stringify(s)).toEqual([s.trim(), s]);
    }
  });
});

describe("people imported in chunks", () => {
  const lastEventId = async () =>
    (await rowsOf<{ id: number | null }>(api.server.ctx.db, "SELECT max(id) AS id FROM events"))[0]!.id ?? 0;
  const eventsAfter = (id: number) =>
    rowsOf<{ type: string; object_id: number; source: string }>(
      api.server.ctx.db,
      "SELECT type, object_id, source FROM events WHERE id > ? ORDER BY id",
      id,
    );
  const idOf = async (email: string) =>
    (await api.call("GET", `/api/v1/users?email=${encodeURIComponent(email)}`)).body.data[0]?.id as number | undefined;

  test("each row sees what the rows before it wrote, across chunks; a bad row costs only itself", async () => {
    const moving = (await api.call("POST", "/api/v1/users", { email: "moving@chunks.example", login: "mover" })).body
      .id as number;
    const lines = Array.from({ length: 1200 }, (_, i) => `,c${i}@chunks.example,C,${i},`);
    lines[10] = ",c5@chunks.example,,,555"; // the person row 5 (line 7) creates, updated
    lines[20] = `${moving},moved@chunks.example,,,`; // frees moving@…
    lines[21] = ",moving@chunks.example,Taken,Over,"; // … which this row then creates
    lines[700] = ",not-an-email,X,Y,";
    lines[701] = "999999,,Nobody,,";
    const csv = `id,email,firstname,lastname,phone\n${lines.join("\n")}\n`;
    const first = await lastEventId();
    const preview = await postCsv("/api/v1/users/import?dry_run=true", csv);
    expect(preview.body).toMatchObject({ rows: 1200, created: 1196, updated: 2, unchanged: 0 });
    expect(preview.body.errors).toEqual([
      { line: 702, field: "email", message: "must be a valid email address" },
      { line: 703, field: "", message: "user not found" },
    ]);
    expect(await lastEventId()).toBe(first);

    lines.splice(700, 2);
    const done = await postCsv("/api/v1/users/import", `id,email,firstname,lastname,phone\n${lines.join("\n")}\n`);
    expect(done.body).toMatchObject({ committed: true, rows: 1198, created: 1196, updated: 2, errors: [] });
    const c5 = (await api.call("GET", `/api/v1/users/${await idOf("c5@chunks.example")}`)).body;
    expect(c5).toMatchObject({ firstname: "C", lastname: "5", phone: "555" });
    expect((await api.call("GET", `/api/v1/users/${moving}`)).body.email).toBe("moved@chunks.example");
    // Search reads what the import wrote (SQLite's FTS triggers, PostgreSQL's generated words).
    const found = (await api.call("GET", "/api/v1/users?q=moved")).body.data.map((u: { id: number }) => u.id);
    expect(found).toEqual([moving]);
    const takenOver = (await api.call("GET", `/api/v1/users/${await idOf("moving@chunks.example")}`)).body;
    expect(takenOver).toMatchObject({ firstname: "Taken", lastname: "Over", roles: ["Customer"] });
    expect(takenOver.id).not.toBe(moving);

    // One event per row written, in the order of the rows, each from the import.
    const events = await eventsAfter(first);
    expect(events.length).toBe(1198);
    expect(events.every((e) => e.source === "import")).toBe(true);
    expect(events.filter((e) => e.type === "user.updated").map((e) => e.object_id)).toEqual([
      (await idOf("c5@chunks.example"))!,
      moving,
    ]);
    const created = events.filter((e) => e.type === "user.created").map((e) => e.object_id);
    expect(created).toEqual([...created].sort((a, b) => a - b));
    expect(events.findIndex((e) => e.object_id === moving)).toBe(20);

    const again = await postCsv("/api/v1/users/import", `email,lastname\nc0@chunks.example,0\nc1@chunks.example,One\n`);
    expect(again.body).toMatchObject({ committed: true, updated: 1, unchanged: 1 });
  });

  test("every imported person goes through the change feed's consumers: a trigger queues a delivery for each", async () => {
    const hook = (await api.call("POST", "/api/v1/webhooks", { name: "imports", url: "http://127.0.0.1:9/hook" })).body;
    expect(hook.id).toBeNumber();
    const trigger = await api.call("POST", "/api/v1/triggers", {
      name: "imported",
      events: ["user.created", "user.updated"],
      conditions: [{ field: "user.email", operator: "starts_with", value: "hooked-" }],
      webhook_ids: [hook.id],
    });
    expect(trigger.status).toBe(201);
    const jobs = async () =>
      (
        await rowsOf<{ n: number }>(api.server.ctx.db, "SELECT count(*) AS n FROM delivery_jobs WHERE kind = 'webhook'")
      )[0]!.n;
    const before = await jobs();
    const lines = Array.from({ length: 510 }, (_, i) => `hooked-${i}@chunks.example,H`);
    const done = await postCsv(
      "/api/v1/users/import",
      `email,firstname\n${lines.join("\n")}\nother@chunks.example,O\n`,
    );
    expect(done.body).toMatchObject({ committed: true, created: 511 });
    expect(Number(await jobs()) - Number(before)).toBe(510);
    const changed = lines.slice(0, 20).map((l) => l.replace(",H", ",I"));
    const again = await postCsv("/api/v1/users/import", `email,firstname\n${changed.join("\n")}\n`);
    expect(again.body).toMatchObject({ committed: true, updated: 20 });
    expect(Number(await jobs()) - Number(before)).toBe(530);
  }, 90_000); // a webhook consumer's statements per event, each a round trip on PostgreSQL

  test("the last active administrator cannot be demoted or deactivated by an import", async () => {
    const refused = await postCsv(
      "/api/v1/users/import",
      "email,roles,active\nadmin@example.com,Customer,\nadmin@example.com,,no\nfine@chunks.example,Agent,\n",
    );
    expect(refused.status).toBe(422);
    expect(refused.body.errors.map((e: { line: number; field: string }) => [e.line, e.field])).toEqual([
      [2, "role_ids"],
      [3, "active"],
    ]);
    expect(refused.body.preview.map((p: { action: string }) => p.action)).toEqual(["error", "error", "create"]);
    const admin = (await api.call("GET", `/api/v1/users/${await idOf("admin@example.com")}`)).body;
    expect(admin).toMatchObject({ active: true, roles: ["Admin"] });
    const promoted = await postCsv("/api/v1/users/import", "email,roles\nnew-admin@chunks.example,Admin\n");
    expect(promoted.body).toMatchObject({ committed: true, created: 1 });
    expect((await api.call("GET", `/api/v1/users/${await idOf("new-admin@chunks.example")}`)).body.roles).toEqual([
      "Admin",
    ]);
  });
});
