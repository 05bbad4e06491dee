/**
 * The dashboard's script (/assets/dashboard.js): the live fragment polls (hx-trigger "every 5s")
 * only while the tab is visible, and refreshes at once when the tab is shown again. The CSP allows
 * no eval, so htmx trigger filters are not an option. Runs in the browser: self-contained.
 */
function dashboardScript(): void {
  const POLLED = "[data-poll-visible]";
  document.addEventListener("htmx:before:request", (e) => {
    if (document.hidden && (e.target as Element | null)?.matches?.(POLLED)) e.preventDefault();
  });
  document.addEventListener("visibilitychange", () => {
    const el = document.querySelector(POLLED);
    const htmx = (window as unknown as { htmx?: { trigger(el: Element, name: string): void } }).htmx;
    if (!document.hidden && el && htmx) htmx.trigger(el, "refresh");
  });
}

export const DASHBOARD_SCRIPT = `(${dashboardScript.toString()})();\n`;
