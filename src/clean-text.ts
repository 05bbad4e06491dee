import type { FieldIssue } from "./errors";

/**
 * Text the appliance never stores: NUL (U+0000), which cuts strings short in C libraries, exports
 * and receivers, and unpaired UTF-16 surrogates (U+D800–U+DFFF alone), which are not text at all and
 * turn into U+FFFD or errors on the way out. Checked once, on every input that validate() reads.
 */
const MAX_ISSUES = 20;

function fault(s: string): string | null {
  if (s.includes("\0")) return "must not contain NUL characters (U+0000)";
  if (!s.isWellFormed()) return "must not contain unpaired surrogates (U+D800–U+DFFF): send well-formed UTF-8";
  return null;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** A path as a linked list: deep inputs share their prefixes instead of copying them. */
type Path = { key: string | number; parent: Path | null } | null;
const fieldOf = (path: Path): string => {
  const keys: (string | number)[] = [];
  for (let p = path; p; p = p.parent) keys.push(p.key);
  return keys.reverse().join(".");
};

/**
 * Every string (and object key) in a JSON-like input holding such characters,
 * named by its path (`traits.bio`, `tags.2`).
 */
export function unstorableText(input: unknown, base: (string | number)[] = []): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const root = base.reduce<Path>((parent, key) => ({ key, parent }), null);
  // Iterative (the input may be nested far deeper than the call stack allows), in document order.
  const stack: { value: unknown; path: Path; keyFault?: string }[] = [{ value: input, path: root }];
  while (stack.length && issues.length < MAX_ISSUES) {
    const { value, path, keyFault } = stack.pop()!;
    if (keyFault) {
      issues.push({ field: fieldOf(path), message: `has a name that ${keyFault}` });
    } else if (typeof value === "string") {
      const message = fault(value);
      if (message) issues.push({ field: fieldOf(path), message });
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: { key: i, parent: path } });
    } else if (isPlainObject(value)) {
      for (const [k, v] of Object.entries(value).reverse())
        stack.push({ value: v, path: { key: k, parent: path }, keyFault: fault(k) ?? undefined });
    }
  }
  return issues;
}
