import { renderPage } from "../../views";
import { humanSize } from "../human-size";
import { html } from "../responses";

const HEADINGS: Record<number, string> = {
  400: "Bad request",
  403: "Forbidden",
  404: "Not found",
  409: "Conflict",
  413: "Too large",
  422: "Invalid",
  429: "Slow down",
  500: "Server error",
};

/**
 * An error page (never with the signed-in header: it may answer a request without a session);
 * `back` links to the form.
 */
export function errorPage(status: number, message: string, back: string | null = null): Response {
  const heading = HEADINGS[status] ?? "Error";
  // Messages are written for the JSON API, in lower case; a page shows them as a sentence.
  const sentence = message.charAt(0).toUpperCase() + message.slice(1);
  return html(renderPage("error", { status, heading, message: sentence, back }, { title: heading }), { status });
}

/** The answer to a form whose upload is over the limit, refused before it was read. */
export function tooLargePage(size: number, limit: number, back: string | null): Response {
  const message =
    `The upload is ${humanSize(size)}; the limit is ${humanSize(limit)}. ` +
    "Nothing was saved: go back, choose a smaller file (or none) and send the form again.";
  return errorPage(413, message, back);
}
