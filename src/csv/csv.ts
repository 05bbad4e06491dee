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

/**
 * An incremental parser: text goes in piece by piece (a quote, a doubled quote or a CR/LF may be split
 * across pieces) and each push returns the rows it completed, so a file of any size streams through.
 */
export class CsvParser {
  line = 1;
  private row: string[] = [];
  private field = "";
  private quoted = false;
  /** Inside quotes, the last character was a quote: a doubled quote or the closing one. */
  private afterQuote = false;
  /** A CR ended the row: an LF right after it belongs to the same line end. */
  private afterCr = false;
  private started = false;

  push(text: string): string[][] {
    const rows: string[][] = [];
    let i = 0;
    if (!this.started && text.length) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) i = 1; // a leading UTF-8 BOM is ignored
    }
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (this.afterCr) {
        this.afterCr = false;
        if (c === "\n") continue;
      }
      if (this.afterQuote) {
        this.afterQuote = false;
        if (c === '"') {
          this.field += '"';
          continue;
        }
        this.quoted = false;
      }
      if (this.quoted) {
        if (c === '"') this.afterQuote = true;
        else {
          if (c === "\n") this.line++;
          this.field += c;
        }
      } else if (c === '"') {
        if (this.field !== "") throw new CsvError("a quote inside an unquoted field", this.line);
        this.quoted = true;
      } else if (c === ",") this.endField();
      else if (c === "\n" || c === "\r") {
        this.endRow(rows);
        this.line++;
        this.afterCr = c === "\r";
      } else this.field += c;
    }
    return rows;
  }

  /** The last row, when the text does not end with a line end. */
  end(): string[][] {
    if (this.quoted && !this.afterQuote) throw new CsvError("a quoted field is not closed", this.line);
    const rows: string[][] = [];
    if (this.field !== "" || this.row.length || this.afterQuote) this.endRow(rows);
    this.quoted = this.afterQuote = false;
    return rows;
  }

  private endField() {
    this.row.push(this.field);
    this.field = "";
  }

  private endRow(rows: string[][]) {
    this.endField();
    if (this.row.length > 1 || this.row[0] !== "") rows.push(this.row);
    this.row = [];
  }
}

/** Parses a whole document into rows of strings. A leading UTF-8 BOM is ignored. */
export function parseCsv(text: string): string[][] {
  const parser = new CsvParser();
  return [...parser.push(text), ...parser.end()];
}

/**
 * What a spreadsheet skips before reading a formula: whitespace (any Unicode space), control and zero-width characters.
 */
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
        // ";" too: where it is the list separator (Excel in much of Europe) it
        // would split the cell, and the rest could run.
        return /[",;\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
      })
      .join(",") + "\r\n"
  );
}

/** Undoes csvLine's formula guard: the exact value that was exported. */
export function unguard(cell: string): string {
  return cell.startsWith("'") && needsGuard(cell.slice(1)) ? cell.slice(1) : cell;
}
