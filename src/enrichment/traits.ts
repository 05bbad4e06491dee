import type { Answer } from "./mappings";

/**
 * Segment-style flat traits: clearbit_ + the path in snake_case (company.metrics.employeesRange →
 * clearbit_company_metrics_employees_range).
 */
const TRAIT_PREFIX = "clearbit_";
const LAST_CHECKED_TRAIT = "clearbit_date_last_checked";

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();

export function flattenAnswer(answer: Answer, checkedAt: Date | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (value: unknown, path: string[]) => {
    if (value === null || value === undefined) return;
    if (typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
      return;
    }
    out[TRAIT_PREFIX + path.map(snake).join("_")] = value;
  };
  if (answer.person) walk(answer.person, ["person"]);
  if (answer.company) walk(answer.company, ["company"]);
  if (checkedAt) out[LAST_CHECKED_TRAIT] = checkedAt.toISOString();
  return out;
}

/** Words Heap spells its own way. */
const WORDS: Record<string, string> = {
  site: "Website",
  url: "URL",
  id: "ID",
  utc: "UTC",
  geo: "Geo",
  lat: "Latitude",
  lng: "Longitude",
  bio: "Bio",
  sic: "SIC",
  naics: "NAICS",
  gics: "GICS",
  isic: "ISIC",
  ein: "EIN",
  crunchbase: "Crunchbase",
  linkedin: "LinkedIn",
  github: "GitHub",
  aboutme: "About.me",
  googleplus: "Google+",
  fuzzy: "Fuzzy",
  alexa: "Alexa",
  us: "US",
  iso: "ISO",
  mx: "MX",
};

/** Heap's human-readable names: company.site.url → "Company Website URL". */
export function humanName(path: string): string {
  if (path === "date_last_checked" || path === LAST_CHECKED_TRAIT) return "Clearbit: Date Last Checked";
  return path
    .split(".")
    .flatMap((p) => p.replace(/([a-z0-9])([A-Z])/g, "$1 $2").split(/[\s_]+/))
    .filter(Boolean)
    .map((w) => WORDS[w.toLowerCase()] ?? w[0]!.toUpperCase() + w.slice(1))
    .join(" ");
}

/** The answer's leaves as {path, name, value} rows for the person page. */
export function answerRows(answer: Answer): { path: string; name: string; value: string }[] {
  const rows: { path: string; name: string; value: string }[] = [];
  const walk = (value: unknown, path: string[]) => {
    if (value === null || value === undefined || value === "") return;
    if (typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
      return;
    }
    if (Array.isArray(value) && !value.length) return;
    const p = path.join(".");
    rows.push({
      path: p,
      name: humanName(p),
      value: Array.isArray(value)
        ? value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ")
        : String(value),
    });
  };
  if (answer.person) walk(answer.person, ["person"]);
  if (answer.company) walk(answer.company, ["company"]);
  return rows;
}
