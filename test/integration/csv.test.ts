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
