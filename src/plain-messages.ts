import { z } from "zod";

type Issue = z.core.$ZodRawIssue;

const TYPE_WORDS: Record<string, string> = {
  number: "must be a number",
  int: "must be a whole number",
  bigint: "must be a whole number",
  string: "must be text",
  boolean: "must be true or false",
  array: "must be a list",
  object: "must be an object",
  date: "must be a date",
  null: "must be empty (null)",
};

const FORMAT_WORDS: Record<string, string> = {
  email: "must be an email address",
  url: "must be a web address (http:// or https://)",
  datetime: "must be a date and time, such as 2026-01-31T09:30:00Z",
  date: "must be a date, such as 2026-01-31",
  time: "must be a time, such as 09:30",
  uuid: "must be a UUID",
  ipv4: "must be an IPv4 address",
  ipv6: "must be an IPv6 address",
};

const count = (n: number | bigint, one: string, many: string) => `${n} ${Number(n) === 1 ? one : many}`;
const shown = (v: unknown) => (typeof v === "string" ? `"${v}"` : String(v));

function sizeMessage(issue: Issue & { origin?: string; inclusive?: boolean }, bound: number | bigint, least: boolean) {
  const limit = Number(bound);
  switch (issue.origin) {
    case "string":
      if (least && limit === 1) return "must not be empty";
      return `must be at ${least ? "least" : "most"} ${count(limit, "character", "characters")}`;
    case "array":
    case "set":
      if (least && limit === 1) return "must have at least one item";
      return `must have at ${least ? "least" : "most"} ${count(limit, "item", "items")}`;
    default:
      if (issue.inclusive === false) return `must be ${least ? "more" : "less"} than ${limit}`;
      return `must be ${least ? "at least" : "at most"} ${limit}`;
  }
}

/**
 * Zod's default messages ("Invalid input: expected number, received string") in plain words ("must
 * be a number"), installed once for every schema; a schema's own message still wins.
 */
function plainMessage(issue: Issue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return TYPE_WORDS[issue.expected] ?? "has the wrong type";
    case "too_small":
      return sizeMessage(issue, issue.minimum, true);
    case "too_big":
      return sizeMessage(issue, issue.maximum, false);
    case "invalid_format":
      return FORMAT_WORDS[issue.format] ?? "is not in the expected format";
    case "invalid_value":
      return issue.values.length === 1
        ? `must be ${shown(issue.values[0])}`
        : `must be one of: ${issue.values.map(String).join(", ")}`;
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    case "invalid_union":
      return "is not one of the accepted forms";
    default:
      return undefined;
  }
}

z.config({ customError: plainMessage });
