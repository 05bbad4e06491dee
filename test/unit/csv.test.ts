import { describe, expect, test } from "bun:test";
import { CsvError, CsvParser, csvLine, parseCsv, unguard } from "../../src/csv/csv";

describe("csv", () => {
  test("parses quotes, doubled quotes, CRLF and newlines inside quotes; ignores a BOM", () => {
    expect(parseCsv('\ufeffa,b,c\r\n1,"x, y","say ""hi"""\n2,"line1\nline2",\n')).toEqual([
      ["a", "b", "c"],
      ["1", "x, y", 'say "hi"'],
      ["2", "line1\nline2", ""],
    ]);
  });
  test("parses the same rows however the text is split (quotes, doubled quotes, CR LF across a split)", () => {
    const text = '\ufeffa,b\r\n"x, ""y""",z\r\n"multi\r\nline",\r\n\r\n"",last';
    const whole = parseCsv(text);
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new CsvParser();
      expect(
        [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut)), ...parser.end()],
        `cut at ${cut}`,
      ).toEqual(whole);
    }
    const oneByOne = new CsvParser();
    expect([...[...text].flatMap((c) => oneByOne.push(c)), ...oneByOne.end()]).toEqual(whole);
    expect(whole).toEqual([
      ["a", "b"],
      ['x, "y"', "z"],
      ["multi\r\nline", ""],
      ["", "last"],
    ]);
  });
  test("reports unclosed quotes with the line", () => {
    expect(() => parseCsv('a\n"open')).toThrow(CsvError);
    expect(() => parseCsv('a\n"open')).toThrow("line 2");
  });
  test("round-trips awkward values and guards formulas", () => {
    const values = ["plain", 'quo"te', "com,ma", "new\nline", "=SUM(A1)", "émoji 🎉", "", null];
    const [row] = parseCsv(csvLine(values));
    expect(row!.map(unguard)).toEqual(values.map((v) => v ?? ""));
    expect(row![4]).toBe("'=SUM(A1)");
  });

  test("every spelling a spreadsheet could run is guarded, and unguard restores the exact value", () => {
    const runnable = [
      "=1+1",
      "+1",
      "-1",
      "@SUM(A1)",
      "\t=1",
      "\r=1",
      "\n=1+1",
      " =1+1",
      "\u00a0=1",
      "\u3000=1",
      "\u200b=1",
      "\u0001=1",
      "\uff1d1+1",
      "\uff0b1",
      "\uff0d1",
      "\uff20SUM(A1)",
      "\uff5ccmd",
      "\uff05",
      "\ufe661",
      "\u22121",
      "|cmd /c calc",
      "%0A=1+1",
      "\tplain",
      "\nplain",
      // Values that look guarded already must survive the round trip too.
      "'=1",
      "''=1",
      "' =1",
      "'\t",
    ];
    for (const v of runnable) {
      const [row] = parseCsv(csvLine([v, "end"]));
      expect(row![0]!.startsWith("'"), JSON.stringify(v)).toBe(true);
      expect(unguard(row![0]!), JSON.stringify(v)).toBe(v);
    }
    for (const v of ["plain", " plain", "'quoted'", "'", "a=b", "1-2", "", '{"a":1}', "😀=1"]) {
      const [row] = parseCsv(csvLine([v, "end"]));
      expect(row![0], JSON.stringify(v)).toBe(v);
      expect(unguard(row![0]!), JSON.stringify(v)).toBe(v);
    }
  });
});
