import { z } from "zod";
import { valueAtPath } from "../conditions";
import type { UserField } from "../domain/users";

/** A provider JSON path (person.name.givenName, company.site.url) and the field it fills. */
export type Mapping = { source: string; target: string };

export const mappingSchema = z.strictObject({
  source: z
    .string()
    .trim()
    .regex(
      /^(person|company)(\.[A-Za-z0-9_]+){1,6}$/,
      "must be a provider path such as person.name.givenName or company.name",
    ),
  target: z.string().trim().min(1, "is required").max(100),
});

/** Zammad's defaults; several paths may fill one field, the first non-empty wins. */
export const DEFAULT_USER_MAPPINGS: Mapping[] = [
  { source: "person.name.givenName", target: "firstname" },
  { source: "person.name.familyName", target: "lastname" },
  { source: "person.email", target: "email" },
  { source: "person.bio", target: "note" },
  { source: "person.site", target: "web" },
  { source: "company.site", target: "web" },
  { source: "person.location", target: "address" },
  { source: "company.location", target: "address" },
  { source: "person.avatar", target: "image" },
];

export const DEFAULT_ORGANIZATION_MAPPINGS: Mapping[] = [
  { source: "company.name", target: "name" },
  { source: "company.legalName", target: "name" },
  { source: "company.domain", target: "domain" },
  { source: "company.description", target: "note" },
];

/** User fields a mapping may fill: text fields; organization_id is the organization step's. */
export const MAPPABLE_USER_FIELDS = [
  "firstname",
  "lastname",
  "email",
  "phone",
  "mobile",
  "address",
  "web",
  "note",
  "image",
  "timezone",
] as const satisfies UserField[];
export const MAPPABLE_ORGANIZATION_FIELDS = ["name", "domain", "note"];

export type Answer = { person: Record<string, unknown> | null; company: Record<string, unknown> | null };

export const isEmpty = (v: unknown) =>
  v === null || v === undefined || (typeof v === "string" && v.trim() === "") || (Array.isArray(v) && v.length === 0);

/** Field values an answer proposes: per field, the first mapping (in order) with a non-empty value. */
export function proposedValues(answer: Answer, mappings: Mapping[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of mappings) {
    if (m.target in out) continue;
    const v = valueAtPath(answer, m.source, { intoArrays: false });
    if (isEmpty(v) || (typeof v === "object" && !Array.isArray(v))) continue;
    out[m.target] = Array.isArray(v) ? v.join(", ") : typeof v === "string" ? v.trim() : v;
  }
  return out;
}

/** Mapping tables as text, one "path → field" a line (the settings page's editor). */
export function formatMappings(mappings: Mapping[]): string {
  return mappings.map((m) => `${m.source} → ${m.target}`).join("\n");
}

export function parseMappings(text: string): Mapping[] | { line: number; message: string } {
  const out: Mapping[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const parts = line.split(/\s*(?:→|->|=>|=)\s*/);
    if (parts.length !== 2 || !parts[0] || !parts[1])
      return { line: i + 1, message: `line ${i + 1}: write "provider.path → field"` };
    out.push({ source: parts[0], target: parts[1] });
  }
  return out;
}
