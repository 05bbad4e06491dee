/** Redaction for the HTTP log: credentials and signatures never reach the database in clear. */
export const REDACTED = "[REDACTED]";

const SENSITIVE_HEADERS = [
  /^authorization$/i,
  /^proxy-authorization$/i,
  /^cookie$/i,
  /^set-cookie$/i,
  /^x-hub-signature/i,
  /^webhook-signature$/i,
  /^x-request-signature$/i,
];

function isSensitiveHeader(name: string): boolean {
  return SENSITIVE_HEADERS.some((re) => re.test(name));
}

const uEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * The ways JSON encoders write a string: JavaScript's, Python's and PHP's (non-ASCII as \u00fc, PHP
 * also "/" as "\/") and Go's (& < > as \u0026…). An echoing receiver may be written in any of them.
 */
function jsonForms(s: string): string[] {
  const js = JSON.stringify(s).slice(1, -1);
  const ascii = js.replace(/[\u0080-\uffff]/g, uEscape);
  const slashed = (t: string) => t.replace(/\//g, "\\/");
  return [js, ascii, slashed(js), slashed(ascii), js.replace(/[<>&\u2028\u2029]/g, uEscape)];
}

/**
 * Every form a secret takes on the wire: as is, percent-encoded (in URLs and forms) and
 * JSON-escaped (in bodies). Short values are skipped: redacting "1" would shred the whole log.
 */
function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < 4) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    for (const form of jsonForms(s)) forms.add(form);
    forms.add(new URLSearchParams({ s }).toString().slice(2));
  }
  // Longest first, so a secret containing another is replaced whole.
  return [...forms].sort((a, b) => b.length - a.length);
}

export class Redactor {
  private readonly forms: string[];

  constructor(secrets: readonly string[]) {
    this.forms = secretForms(secrets);
  }

  text(value: string): string;
  text(value: string | null | undefined): string | null;
  text(value: string | null | undefined): string | null {
    if (value == null) return null;
    let out = value;
    for (const form of this.forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
    return out;
  }

  /** Also hides the password of user:password@ URLs. */
  url(value: string): string {
    let out = value;
    try {
      const u = new URL(value);
      if (u.password) {
        u.password = "REDACTED";
        out = u.toString();
      }
    } catch {
      // Not a URL we can parse: redact it as text.
    }
    return this.text(out);
  }

  headers(headers: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers))
      out[name] = isSensitiveHeader(name) ? REDACTED : this.text(value);
    return out;
  }
}
