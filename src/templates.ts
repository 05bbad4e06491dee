import Mustache from "mustache";
import { encodeHeaderValue } from "./delivery/header-value";

/**
 * Mustache rendering for payloads that leave the box, in the context each value lands in:
 * - JSON: a value inside "…{{ x }}…" is escaped as JSON string content, so quotes, backslashes,
 *   newlines and emoji in a name still give valid JSON; the result must parse as JSON.
 * - URL: values are percent-encoded; the result must be an http(s) URL.
 * - Headers: a JSON object of strings (rendered in JSON context), no line breaks in values; a value
 *   beyond printable ASCII is sent RFC 8187-encoded (delivery/header-value.ts).
 * HTML views use Mustache's own HTML escaping (views.ts). Unescaped tags ({{{ x }}}, {{& x }}) are
 * refused in JSON and URL contexts: they would let a value (a name sent with a write key) add JSON
 * keys or steer a URL.
 */
export class TemplateError extends Error {
  constructor(
    message: string,
    readonly position?: { line: number; column: number },
  ) {
    super(position ? `${message} (line ${position.line}, column ${position.column})` : message);
  }
}

const jsonEscape = (v: unknown) => JSON.stringify(String(v)).slice(1, -1);

function positionOf(text: string, offset: number) {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

/** Checks the mustache syntax (unclosed tags and sections), with the position of the fault. */
function checkSyntax(template: string): void {
  try {
    Mustache.parse(template);
  } catch (err) {
    const m = /at (\d+)/.exec((err as Error).message);
    throw new TemplateError(
      `template syntax: ${(err as Error).message.replace(/ at \d+$/, "")}`,
      m ? positionOf(template, Number(m[1])) : undefined,
    );
  }
}

type Token = [string, string, number, number, Token[]?];

function firstUnescapedTag(tokens: Token[]): Token | undefined {
  for (const t of tokens) {
    if (t[0] === "&") return t;
    const inner = t[4] && firstUnescapedTag(t[4]);
    if (inner) return inner;
  }
  return undefined;
}

/** Refuses {{{ x }}} and {{& x }} (raw insertion), naming the first one's position. */
function checkEscaped(template: string): void {
  checkSyntax(template);
  const raw = firstUnescapedTag(Mustache.parse(template) as Token[]);
  if (raw) {
    throw new TemplateError(
      `unescaped tag "${template.slice(raw[2], raw[3])}" is not allowed here: ` +
        `use {{ ${raw[1]} }}, which escapes the value for this context`,
      positionOf(template, raw[2]),
    );
  }
}

function render(template: string, view: object, escapeValue: (v: unknown) => string): string {
  checkEscaped(template);
  return Mustache.render(template, view, {}, { escape: escapeValue });
}

/** Parses rendered JSON; invalid JSON is refused with the position of the first fault. */
function parseRendered(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const offset = jsonErrorOffset(text);
    throw new TemplateError(
      `the rendered template is not valid JSON: ${(err as Error).message}`,
      offset === undefined ? undefined : positionOf(text, offset),
    );
  }
}

/**
 * Where JSON text stops being valid: Bun's JSON.parse errors carry no position, so the text is
 * scanned (only on the error path). Undefined when the nesting is too deep to scan.
 */
function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = () => {
    while (" \t\n\r".includes(text[i] || "x")) i++;
  };
  const expect = (ch: string) => (text[i] === ch ? i++ : fail());
  const string = () => {
    expect('"');
    for (;;) {
      const escaped = /^\\(["\\/bfnrt]|u[0-9a-fA-F]{4})/.exec(text.slice(i, i + 6));
      if (escaped) i += escaped[0].length;
      else if (text[i] === '"') return i++;
      else if (text[i] === undefined || text[i]! < " " || text[i] === "\\") fail();
      else i++;
    }
  };
  const list = (close: string, item: () => void) => {
    i++;
    ws();
    if (text[i] === close) return i++;
    for (;;) {
      item();
      ws();
      if (text[i] === close) return i++;
      expect(",");
    }
  };
  const value = (): unknown => {
    ws();
    if (text[i] === "{") return list("}", () => (ws(), string(), ws(), expect(":"), value()));
    if (text[i] === "[") return list("]", value);
    if (text[i] === '"') return string();
    const literal = /^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    return literal ? (i += literal[0].length) : fail();
  };
  try {
    value();
    ws();
    return i < text.length ? i : undefined;
  } catch (at) {
    return typeof at === "number" ? at : undefined;
  }
}

/**
 * The names a template inserts in the top-level context ({{ ticket.title }}), in order, each once;
 * names inside sections are left out (their context is the section's). Empty for a template that
 * does not parse.
 */
export function insertedNames(template: string): string[] {
  let tokens: Token[];
  try {
    tokens = Mustache.parse(template) as Token[];
  } catch {
    return [];
  }
  return [...new Set(tokens.filter((t) => t[0] === "name").map((t) => t[1]))];
}

/** Renders a JSON template and parses the result; invalid JSON is refused with its position. */
export function renderJson(template: string, view: object): unknown {
  return parseRendered(render(template, view, jsonEscape));
}

/** Renders a JSON template to its text (what is sent), after checking that it parses. */
export function renderJsonText(template: string, view: object): string {
  const text = render(template, view, jsonEscape);
  parseRendered(text);
  return text;
}

/** A path segment that URL parsing resolves away: ".", "..", also percent-encoded (WHATWG URL decodes %2e there). */
const DOT_SEGMENT = /^(\.|%2e){1,2}$/i;

export function renderUrl(template: string, view: object): string {
  const text = render(template, view, (v) => encodeURIComponent(String(v))).trim();
  // Refused rather than encoded: no encoding of "." survives URL normalization, and a value that
  // walks up the path (an id ".." from a CRM) would address another resource.
  const path = text.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, "").split(/[?#]/, 1)[0]!;
  if (path.split(/[/\\]/).some((segment) => DOT_SEGMENT.test(segment))) {
    throw new TemplateError(
      'the rendered URL has a "." or ".." path segment, which would leave the path the template addresses: ' +
        text.slice(0, 200),
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TemplateError(`the rendered URL is not a valid URL: ${text.slice(0, 200)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new TemplateError("the URL must start with http:// or https://");
  return url.toString();
}

/** Headers as a JSON object template, e.g. {"X-Customer": "{{ person.email }}"}. Empty means none. */
export function renderHeaders(template: string, view: object): Record<string, string> {
  if (!template.trim()) return {};
  const value = renderJson(template, view);
  if (!value || typeof value !== "object" || Array.isArray(value))
    throw new TemplateError('headers must be a JSON object such as {"X-Api-Key": "…"}');
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new TemplateError(`"${name}" is not a valid header name`);
    const s = typeof v === "string" ? v : JSON.stringify(v);
    if (/[\r\n]/.test(s)) throw new TemplateError(`the value of header "${name}" must not contain line breaks`);
    out[name] = encodeHeaderValue(s);
  }
  return out;
}
