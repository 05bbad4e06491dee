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
  test("parses the same rows however the text is split into pieces (quotes, doubled quotes, CR LF across a split)", () => {
    const text = '\ufeffa,b\r\n"x, ""y""",z\r\n"multi\r\nline",\r\n\r\n"",last';
    const whole = parseCsv(text);
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new CsvParser();
      expect([...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut)), ...parser.end()], `cut at ${cut}`).toEqual(whole);
    }
    const oneByOne = new CsvParser();
    expect([...[...text].flatMap((c) => oneByOne.push(c)), ...oneByOne.end()]).toEqual(whole);
    expect(whole).toEqual([["a", "b"], ['x, "y"', "z"], ["multi\r\nline", ""], ["", "last"]]);
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
});
