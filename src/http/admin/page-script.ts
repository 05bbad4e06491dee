/**
 * The small helpers every admin page loads (/assets/page.js):
 * - `<button data-copy="id">` copies the text of the element with that id (plain HTTP on a LAN has no
 *   Clipboard API, so a selection and execCommand stand in) and says so in the button for a moment;
 * - `<input type="checkbox" data-select-all="name">` ticks or clears the checkboxes of that name in its form.
 * Buttons and checkboxes are the browser's own, so both work from the keyboard.
 * It runs in the browser: self-contained, no imports, served as its own source (no inline script under the CSP).
 */
function pageScript(): void {
  const copyText = async (text: string) => {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    const done = document.execCommand("copy");
    area.remove();
    if (!done) throw new Error("copy refused");
  };

  /** Said once to screen readers, whatever the button shows. */
  const announce = (message: string) => {
    let region = document.getElementById("copy-status");
    if (!region) {
      region = document.createElement("div");
      region.id = "copy-status";
      region.className = "sr-only";
      region.setAttribute("role", "status");
      document.body.append(region);
    }
    region.textContent = message;
  };

  document.addEventListener("click", (event) => {
    const button = (event.target as Element | null)?.closest<HTMLButtonElement>("button[data-copy]");
    const source = button && document.getElementById(button.dataset.copy ?? "");
    if (!button || !source) return;
    const label = button.dataset.label ?? button.textContent ?? "Copy";
    button.dataset.label = label;
    copyText(source.textContent ?? "").then(
      () => announce((button.textContent = "Copied")),
      () => announce((button.textContent = "Copying was refused: select the text and press Ctrl+C")),
    );
    setTimeout(() => (button.textContent = label), 2000);
  });

  document.addEventListener("change", (event) => {
    const all = event.target;
    if (!(all instanceof HTMLInputElement) || !all.dataset.selectAll || !all.form) return;
    for (const box of all.form.querySelectorAll<HTMLInputElement>(
      `input[type=checkbox][name="${all.dataset.selectAll}"]`,
    ))
      box.checked = all.checked;
  });
}

export const PAGE_SCRIPT = `(${pageScript.toString()})();\n`;
