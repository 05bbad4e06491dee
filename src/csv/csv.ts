/**
 * RFC 4180 CSV: quoted fields, doubled quotes, CR/LF or LF line ends, newlines inside quotes.
 * Small enough to own; exports are written row by row so a million rows stream in bounded memory.
 */
export class CsvError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** Parses a whole document into rows of strings. A leading UTF-8 BOM is ignored. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endField = () => {
    row.push(field);
    field = "";
  };
  const endRow = () => {
    endField();
    if (row.length > 1 || row[0] !== "") rows.push(row);
    row = [];
  };
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === "\n") line++;
        field += c;
      }
    } else if (c === '"') {
      if (field !== "") throw new CsvError("a quote inside an unquoted field", line);
      quoted = true;
    } else if (c === ",") endField();
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRow();
      line++;
    } else field += c;
  }
  if (quoted) throw new CsvError("a quoted field is not closed", line);
  if (field !== "" || row.length) endRow();
  return rows;
}

/** What a spreadsheet skips before reading a formula: whitespace (any Unicode space), control and zero-width characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what a spreadsheet skips
const BLANKS = /^[\s\u0000-\u001f\u007f\u200b-\u200d\u2060]*/;
/**
 * Characters that start a formula or command in Excel, LibreOffice or Google Sheets: = + - @, the
 * DDE pipe |, % (URL-encoded payloads such as %0A=...), and their full-width, small-form and minus-sign twins.
 */
const FORMULA_START = /^[=+\-@|%\uff1d\uff0b\uff0d\uff20\uff5c\uff05\ufe62\ufe63\ufe66\ufe6b\ufe6a\u2212]/;

/**
 * True when a spreadsheet could run this cell: it starts with tab, CR or LF, or its first non-blank
 * character starts a formula. A value that starts with the guard apostrophe in front of such text is
 * guarded too, so that unguard() restores every value exactly.
 */
function needsGuard(s: string): boolean {
  const runnable = (t: string) => /^[\t\r\n]/.test(t) || FORMULA_START.test(t.replace(BLANKS, ""));
  return runnable(s) || runnable(s.replace(/^'+/, ""));
}

/**
 * One CSV line. Cells a spreadsheet would run as a formula get a leading apostrophe, the OWASP
 * advice against CSV injection; the importer removes it again.
 */
export function csvLine(cells: unknown[]): string {
  return (
    cells
      .map((v) => {
        let s = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
        if (needsGuard(s)) s = `'${s}`;
        return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
      })
      .join(",") + "\r\n"
  );
}

/** Undoes csvLine's formula guard: the exact value that was exported. */
export function unguard(cell: string): string {
  return cell.startsWith("'") && needsGuard(cell.slice(1)) ? cell.slice(1) : cell;
}
