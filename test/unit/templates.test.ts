import { describe, expect, test } from "bun:test";
import { renderHeaders, renderJson, renderJsonText, renderUrl, TemplateError } from "../../src/templates";

const person = {
  first_name: 'Zoë "Z" O\'Brien',
  last_name: "Back\\slash",
  note: "line1\nline2\ttab",
  emoji: "🎉",
  id: 42,
  vip: true,
};

describe("JSON context", () => {
  test("values with quotes, backslashes, newlines and emoji stay valid JSON, with or without spaces in braces", () => {
    const out = renderJson(
      '{"first": "{{ person.first_name }}", "last": "{{person.last_name}}", "note": "{{ person.note }}", ' +
        '"e": "{{person.emoji}}", "id": {{ person.id }}, "vip": {{ person.vip }}}',
      { person },
    );
    expect(out).toEqual({
      first: person.first_name,
      last: person.last_name,
      note: person.note,
      e: "🎉",
      id: 42,
      vip: true,
    });
  });
  test("a template that renders invalid JSON is refused with a position", () => {
    expect(() => renderJson('{"a": {{ missing }}}', {})).toThrow(TemplateError);
    expect(() => renderJson('{"a": "{{ x }"}', {})).toThrow(/template syntax/);
    const refused = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err as TemplateError;
      }
      throw new Error("the template was accepted");
    };
    const err = refused(() => renderJson('{\n  "a": 1,\n  "b": }', {}));
    expect(err).toBeInstanceOf(TemplateError);
    expect(err.message).toMatch(/^the rendered template is not valid JSON: .* \(line 3, column 8\)$/);
    expect(err.position).toEqual({ line: 3, column: 8 });
    // The position is that of the rendered text, the text sent; the exact bytes variant reports it too.
    expect(refused(() => renderJsonText('{"a": "{{ x }}" "b": 1}', { x: 'say "hi"' })).position).toEqual({
      line: 1,
      column: 20,
    });
    expect(refused(() => renderJson('{"a": [1, 2,]}', {})).position).toEqual({ line: 1, column: 13 });
    expect(refused(() => renderJson('{"a": 1} trailing', {})).position).toEqual({ line: 1, column: 10 });
    // A raw tab in a string.
    expect(refused(() => renderJson('{"a": "\t"}', {})).position).toEqual({ line: 1, column: 8 });
    expect(refused(() => renderJson("", {})).position).toEqual({ line: 1, column: 1 });
  });
  test("valid JSON of every kind still renders (the position scan only runs on errors)", () => {
    expect(renderJson('[{"a": -1.5e3, "b": "\\u00e9\\n", "c": [true, false, null], "d": {}}, []]', {})).toEqual([
      { a: -1500, b: "é\n", c: [true, false, null], d: {} },
      [],
    ]);
  });
  test("renderJsonText keeps the exact bytes", () => {
    expect(renderJsonText('{ "n": "{{ n }}" }', { n: "x" })).toBe('{ "n": "x" }');
  });
});

describe("URL context", () => {
  test("values are percent-encoded", () => {
    expect(renderUrl("https://crm.example/people/{{ id }}?q={{ q }}", { id: "a/b c", q: "x&y=z" })).toBe(
      "https://crm.example/people/a%2Fb%20c?q=x%26y%3Dz",
    );
  });
  test("non-http URLs are refused", () => {
    expect(() => renderUrl("file:///etc/passwd", {})).toThrow(TemplateError);
    expect(() => renderUrl("{{ nothing }}", {})).toThrow(TemplateError);
  });
});

describe("headers", () => {
  test("a JSON object of strings; no line breaks, valid names", () => {
    expect(renderHeaders('{"X-Email": "{{ e }}"}', { e: "a@b.c" })).toEqual({ "X-Email": "a@b.c" });
    expect(renderHeaders("", {})).toEqual({});
    expect(() => renderHeaders('{"X-A": "{{ e }}"}', { e: "a\r\nInjected: 1" })).toThrow(/line breaks/);
    expect(() => renderHeaders('{"Bad Name": "x"}', {})).toThrow(/header name/);
    expect(() => renderHeaders("[1]", {})).toThrow(/JSON object/);
  });
});

describe("hardening", () => {
  test('a value making a "." or ".." path segment is refused; encoding cannot help, URLs resolve %2e too', () => {
    expect(new URL("http://h/crm/people/%2E%2E").pathname).toBe("/crm/");
    for (const id of ["..", "."])
      expect(() => renderUrl("https://crm.example/people/{{ id }}", { id })).toThrow(/path segment/);
    expect(() => renderUrl("https://crm.example/a/.%2E/{{ id }}", { id: 1 })).toThrow(/path segment/);
    expect(renderUrl("https://crm.example/people/{{ id }}", { id: ".%2E" })).toBe("https://crm.example/people/.%252E");
    expect(renderUrl("https://crm.example/people/{{ id }}?q={{ id }}", { id: "a..b" })).toBe(
      "https://crm.example/people/a..b?q=a..b",
    );
    expect(renderUrl("https://crm.example/people/{{ id }}", { id: "../x" })).toBe("https://crm.example/people/..%2Fx");
    expect(renderUrl("https://crm.example/people?q={{ id }}", { id: ".." })).toBe("https://crm.example/people?q=..");
  });
  test("{{{ }}} and {{& }} are refused in JSON, URL and header templates, with their position", () => {
    expect(() => renderJson('{"a": "{{{ x }}}"}', { x: '", "admin": true, "b": "' })).toThrow(
      /unescaped tag "\{\{\{ x \}\}\}".*line 1, column 8/,
    );
    expect(() => renderJsonText('{\n"a": "{{#s}}{{& x }}{{/s}}"}', { s: true })).toThrow(/line 2, column 13/);
    expect(() => renderUrl("https://h/{{{ x }}}", { x: "y" })).toThrow(/unescaped tag/);
    expect(() => renderHeaders('{"X-A": "{{& x }}"}', { x: "y" })).toThrow(/unescaped tag/);
  });
});
