import type { HttpRequestSpec } from "../delivery";
import type { FieldIssue } from "../errors";
import { renderHeaders, renderJson, renderJsonText, renderUrl, TemplateError } from "../templates";
import type { CrmOperation } from "./schema";
import type { TemplateView } from "./tokens";

export type RenderedCall = {
  method: CrmOperation["method"];
  url: string;
  headers: Record<string, string>;
  body?: string;
};

/**
 * One operation rendered for a person: URL percent-encoded, headers and data in JSON-string context
 * (templates.ts), so no value can break the payload. Data goes out as JSON unless the headers say otherwise.
 */
export function renderCall(op: CrmOperation, view: TemplateView): RenderedCall {
  const url = renderUrl(op.url, view);
  const headers = renderHeaders(op.headers, view);
  const body = op.data.trim() ? renderJsonText(op.data, view) : undefined;
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type"))
    headers["Content-Type"] = "application/json";
  return { method: op.method, url, headers, body };
}

export function toRequestSpec(call: RenderedCall, op: CrmOperation, auth: HttpRequestSpec["auth"]): HttpRequestSpec {
  return {
    method: call.method,
    url: call.url,
    headers: call.headers,
    body: call.body,
    auth,
    tlsVerify: op.tlsVerify,
    timeoutMs: op.timeoutSeconds * 1000,
  };
}

/** Renders each template of an operation, naming the field at fault (e.g. "update.data") with the error's position. */
export function checkOperation(prefix: string, op: CrmOperation, view: TemplateView): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const attempt = (field: keyof CrmOperation, fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      issues.push({ field: `${prefix}.${field}`, message: err.message });
    }
  };
  attempt("url", () => renderUrl(op.url, view));
  attempt("headers", () => renderHeaders(op.headers, view));
  if (op.data.trim()) attempt("data", () => renderJson(op.data, view));
  return issues;
}
