/**
 * Header values are bytes, and fetch refuses anything beyond Latin-1 ("invalid header value"). A
 * value that is printable ASCII goes as is; any other (a trigger named "Déjà vu 🚀", a CRM header
 * carrying a person's name) goes RFC 8187-style: `UTF-8''` and the UTF-8 bytes percent-encoded.
 */
export function encodeHeaderValue(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  return (
    "UTF-8''" + encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  );
}

/** A header name as HTTP allows it (an RFC 9110 token). */
export const isHeaderName = (name: string) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name);

/** What fetch can send as a header value as is: Latin-1 without control characters. */
export const isSendableHeaderValue = (value: string) =>
  /^[\t\x20-\x7e\x80-\xff]*$/.test(value) && !/[\x7f-\x9f]/.test(value);
