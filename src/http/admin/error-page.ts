import { renderPage } from "../../views";
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

export function errorPage(status: number, message: string): Response {
  const heading = HEADINGS[status] ?? "Error";
  // Messages are written for the JSON API, in lower case; a page shows them as a sentence.
  const sentence = message.charAt(0).toUpperCase() + message.slice(1);
  return html(renderPage("error", { status, heading, message: sentence }, { title: heading }), { status });
}
