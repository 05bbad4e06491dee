/**
 * The sync editor's script (/assets/crm-sync.js), self-contained for the browser:
 * 1. Tabs: the create, update and delete sections are one form; a tab shows its section and hides
 *    the others, so switching never discards what was typed.
 * 2. Leaving with unsaved changes asks first (beforeunload); submitting the form does not.
 * 3. Times (time[data-local]) are shown in the browser's time zone with how long ago, also after
 *    htmx swaps them in (the "sync all" progress refreshes itself).
 */
function crmSyncScript(): void {
  const form = document.getElementById("sync-form") as HTMLFormElement | null;
  if (form) {
    const tabInput = form.querySelector<HTMLInputElement>("input[name=tab]");
    const show = (tab: string) => {
      for (const button of document.querySelectorAll<HTMLButtonElement>("button[data-tab]")) {
        const active = button.dataset.tab === tab;
        button.setAttribute("aria-pressed", String(active));
        button.classList.toggle("btn-primary", active);
        button.classList.toggle("btn-ghost", !active);
        const section = document.getElementById(`tab-${button.dataset.tab}`);
        if (section) section.hidden = !active;
      }
      if (tabInput) tabInput.value = tab;
      const url = new URL(location.href);
      url.searchParams.set("tab", tab);
      history.replaceState(history.state, "", url);
    };
    for (const button of document.querySelectorAll<HTMLButtonElement>("button[data-tab]"))
      button.addEventListener("click", () => show(button.dataset.tab ?? "create"));

    // A form shown again with errors holds typed, unsaved values from the start.
    let unsaved = form.hasAttribute("data-unsaved");
    const changed = () => (unsaved = true);
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", () => (unsaved = false));
    window.addEventListener("beforeunload", (e) => {
      if (!unsaved) return;
      e.preventDefault();
      e.returnValue = "";
    });
  }

  const ago = (ms: number) => {
    const s = Math.round(ms / 1000);
    if (s < 60) return "just now";
    const m = Math.round(s / 60);
    if (m < 60) return `${m} min ago`;
    const h = Math.round(m / 60);
    return h < 48 ? `${h} h ago` : `${Math.round(h / 24)} days ago`;
  };
  const localTimes = () => {
    for (const t of document.querySelectorAll<HTMLTimeElement>("time[data-local]")) {
      const at = new Date(t.dateTime);
      if (Number.isNaN(at.getTime())) continue;
      t.title = at.toISOString();
      t.textContent = `${at.toLocaleString()} (${ago(Date.now() - at.getTime())})`;
    }
  };
  localTimes();
  document.addEventListener("htmx:after:swap", localTimes);
  setInterval(localTimes, 30_000);
}

export const CRM_SYNC_SCRIPT = `(${crmSyncScript.toString()})();\n`;
