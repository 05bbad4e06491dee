import { describe, expect, test } from "bun:test";
import { CsvError, csvLine, parseCsv, unguard } from "../../src/csv/csv";

describe("csv", () => {
  test("parses quotes, doubled quotes, CRLF and newlines inside quotes; ignores a BOM", () => {
    expect(parseCsv('\ufeffa,b,c\r\n1,"x, y","say ""hi"""\n2,"line1\nline2",\n')).toEqual([
      ["a", "b", "c"],
      ["1", "x, y", 'say "hi"'],
      ["2", "line1\nline2", ""],
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
});
