import { Database } from "bun:sqlite";

/**
 * The words SQLite's FTS5 tokenizer (unicode61, as users_fts uses it) finds in a text, computed here so a
 * row can carry them (users.name_words) and a search can check a row without asking the full-text index.
 * ASCII is split and lower-cased directly; any other character is looked up once in a scratch FTS5 table,
 * a block of 256 code points at a time, so the words are exactly those the index holds.
 */

/** Per code point: null for a separator, else what the tokenizer folds it to ("" when it drops it). */
const folded = new Map<number, string | null>();
let scratch: { db: Database; insert: ReturnType<Database["prepare"]> } | undefined;

function probeBlock(block: number) {
  scratch ??= (() => {
    const db = new Database(":memory:");
    db.exec(
      "CREATE VIRTUAL TABLE probe USING fts5(x); CREATE VIRTUAL TABLE probe_words USING fts5vocab(probe, 'instance')",
    );
    return { db, insert: db.prepare("INSERT INTO probe(rowid, x) VALUES (?, ?)") };
  })();
  const { db, insert } = scratch;
  const first = block * 256;
  db.transaction(() => {
    for (let cp = first; cp < first + 256; cp++)
      if (cp < 0xd800 || cp > 0xdfff) insert.run(cp, `a${String.fromCodePoint(cp)}b`);
  })();
  const terms = new Map<number, string[]>();
  for (const { term, doc } of db.query("SELECT term, doc FROM probe_words ORDER BY doc, offset").all() as {
    term: string;
    doc: number;
  }[])
    terms.set(doc, [...(terms.get(doc) ?? []), term]);
  db.exec("DELETE FROM probe");
  for (let cp = first; cp < first + 256; cp++) {
    const [only, ...rest] = terms.get(cp) ?? [];
    folded.set(cp, only !== undefined && rest.length === 0 ? only.slice(1, -1) : null);
  }
}

function foldOf(cp: number): string | null {
  if (cp < 0x80) {
    if ((cp >= 48 && cp <= 57) || (cp >= 97 && cp <= 122)) return String.fromCharCode(cp);
    return cp >= 65 && cp <= 90 ? String.fromCharCode(cp + 32) : null;
  }
  if (!folded.has(cp)) probeBlock(cp >> 8);
  return folded.get(cp)!;
}

/** The tokenizer's words of `text`, folded (lower case, common accents removed). */
export function ftsWords(text: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (const ch of text) {
    const f = foldOf(ch.codePointAt(0)!);
    if (f === null) {
      if (word) words.push(word);
      word = null;
    } else word = (word ?? "") + f;
  }
  if (word) words.push(word);
  return words;
}

/**
 * A person's searchable words (email, first name, last name, login, as users_fts indexes them) as stored in
 * users.name_words: each word after a space, so "a word starts with w" is `instr(name_words, ' ' || w) > 0`.
 */
export const nameWordsOf = (p: {
  email?: string | null;
  firstname?: string | null;
  lastname?: string | null;
  login?: string | null;
}): string =>
  [p.email, p.firstname, p.lastname, p.login]
    .flatMap((text) => (text ? ftsWords(text) : []))
    .map((w) => ` ${w}`)
    .join("");

/** Fills users.name_words where it is null (the migration that adds it), in batches by id, in its transaction. */
export function fillNameWords(sqlite: Database) {
  type Row = {
    id: number;
    email: string | null;
    firstname: string | null;
    lastname: string | null;
    login: string | null;
  };
  const next = sqlite.query<Row, [number]>(
    "SELECT id, email, firstname, lastname, login FROM users WHERE id > ? AND name_words IS NULL ORDER BY id LIMIT 5000",
  );
  const update = sqlite.prepare("UPDATE users SET name_words = ? WHERE id = ?");
  for (let rows = next.all(0); rows.length; rows = next.all(rows.at(-1)!.id))
    for (const row of rows) update.run(nameWordsOf(row), row.id);
}
