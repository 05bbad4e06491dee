import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { fillNameWords, ftsWords, nameWordsOf } from "../../src/db/fts-words";
import { describeOnSqlite } from "../support/store";
import { memoryDb } from "../support/unit-db";

/** The words FTS5 itself (unicode61, as users_fts) finds in each text. */
function tokenizerWords(texts: string[]): string[][] {
  const db = new Database(":memory:");
  db.exec("CREATE VIRTUAL TABLE t USING fts5(x); CREATE VIRTUAL TABLE w USING fts5vocab(t, 'instance')");
  const insert = db.prepare("INSERT INTO t(rowid, x) VALUES (?, ?)");
  for (const [i, text] of texts.entries()) insert.run(i + 1, text);
  const words = texts.map((): string[] => []);
  for (const r of db.query("SELECT term, doc FROM w ORDER BY doc, offset").all() as { term: string; doc: number }[])
    words[r.doc - 1]!.push(r.term);
  return words;
}

describe("the words of a text, as the full-text index holds them", () => {
  test("match FTS5's own tokenizer on texts of letters, digits, accents, marks and punctuation from many scripts", () => {
    // A fixed pseudo-random mix of ASCII and of code points up to U+2FFF (Latin, Greek, Cyrillic, combining
    // marks, punctuation, …): folding and splitting must agree character by character and across words.
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const pick = () =>
      random() < 0.5
        ? String.fromCharCode(32 + Math.floor(random() * 95))
        : String.fromCodePoint(0x80 + Math.floor(random() * (0x3000 - 0x80)));
    const texts = Array.from({ length: 3000 }, () => Array.from({ length: 12 }, pick).join(""));
    texts.push("Zoë Ångström-Łukasz", "JOSÉ.Núñez@Example-7.com", "ǅemal ſmith Straße");
    const expected = tokenizerWords(texts);
    for (const [i, text] of texts.entries()) expect([text, ftsWords(text)]).toEqual([text, expected[i]!]);
  });

  test("a person's words are each after a space, so a word start is found with instr", () => {
    expect(nameWordsOf({ email: "zoe.smith-7@example.com", firstname: "Zoë", lastname: null, login: "Z7" })).toBe(
      " zoe smith 7 example com zoe z7",
    );
  });

  describeOnSqlite("a step of SQLite's migrations, on its connection", "SQLite's migration", () => {
    test("the migration's data step fills the words of rows written without them", () => {
      const db = memoryDb();
      db.$client.exec(`INSERT INTO users (login, email, firstname, lastname, created_at, updated_at)
        VALUES ('a', 'ana.lopez@acme.com', 'Ána', 'López', 0, 0), ('b', NULL, NULL, 'Byron', 0, 0)`);
      expect(db.$client.query("SELECT count(*) AS n FROM users WHERE name_words IS NULL").get()).toEqual({ n: 2 });
      fillNameWords(db.$client);
      expect(db.$client.query("SELECT name_words FROM users ORDER BY login").all()).toEqual([
        { name_words: " ana lopez acme com ana lopez a" },
        { name_words: " byron b" },
      ]);
    });
  });
});
