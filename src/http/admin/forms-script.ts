/**
 * The script every admin page loads (/assets/forms.js), so that what an admin typed is never lost:
 * 1. A file over the server's limit (data-max-bytes on the file input) is refused here, in the file's
 *    error slot, before the form is sent: the server refuses such a body unread, and the page would be gone.
 * 2. A form posted after the session ended was kept by the server (kept-forms.ts); after signing in again
 *    its page carries it (#kept-form) and it is filled in here, once.
 * It runs in the browser: self-contained, no imports. Served as its own source, so the CSP needs no inline script.
 */
function formsScript(): void {
  const humanSize = (bytes: number) => {
    if (bytes < 1024) return `${bytes} B`;
    const [value, unit] = bytes < 1024 * 1024 ? [bytes / 1024, "KB"] : [bytes / 1024 / 1024, "MB"];
    return `${value.toFixed(1).replace(/\.0$/, "")} ${unit}`;
  };

  const limitedInputs = (form: HTMLFormElement) => [
    ...form.querySelectorAll<HTMLInputElement>("input[type=file][data-max-bytes]"),
  ];

  /** The message for a form whose files (with its other fields) would pass the limit, or null. */
  const oversize = (form: HTMLFormElement) => {
    const inputs = limitedInputs(form);
    if (!inputs.length) return null;
    const limit = Math.min(...inputs.map((i) => Number(i.dataset.maxBytes)));
    const files = [...form.querySelectorAll<HTMLInputElement>("input[type=file]")].flatMap((i) => [...(i.files ?? [])]);
    const fileBytes = files.reduce((sum, f) => sum + f.size, 0);
    // The rest of the body: the typed fields and the multipart framing around each part.
    let rest = 0;
    for (const [name, value] of new FormData(form))
      rest += 200 + name.length + (typeof value === "string" ? new Blob([value]).size : 0);
    if (fileBytes + rest <= limit) return null;
    const what =
      files.length > 1 ? `The files are ${humanSize(fileBytes)} in all` : `The file is ${humanSize(fileBytes)}`;
    return `${what}; the limit is ${humanSize(limit)}. Choose a smaller file (or none); nothing you typed is lost.`;
  };

  const showError = (input: HTMLInputElement, message: string | null) => {
    input.setAttribute("aria-invalid", message ? "true" : "false");
    const slot = document.getElementById(`${input.id}-error`);
    if (!slot) return;
    slot.replaceChildren();
    if (!message) return;
    const p = document.createElement("p");
    p.className = "field-error";
    p.setAttribute("role", "alert");
    p.textContent = message;
    slot.append(p);
  };

  const check = (form: HTMLFormElement) => {
    const message = oversize(form);
    for (const input of limitedInputs(form)) showError(input, message);
    return message;
  };

  document.addEventListener("change", (event) => {
    const input = event.target;
    if (input instanceof HTMLInputElement && input.type === "file" && input.form) check(input.form);
  });

  // On the window, capturing: before htmx or the browser sends the form.
  window.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !check(form)) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      limitedInputs(form)[0]?.focus();
    },
    true,
  );

  const kept = document.getElementById("kept-form");
  const action = kept?.dataset.action;
  const form = [...document.forms].find(
    (f) => action && (f.getAttribute("action") === action || f.getAttribute("hx-post") === action),
  );
  if (!kept || !form) return;
  const fields = JSON.parse(kept.dataset.fields ?? "{}") as Record<string, string[]>;
  const seen: Record<string, number> = {};
  for (const el of form.elements) {
    if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement))
      continue;
    if (!el.name || ["hidden", "file", "password"].includes(el.type)) continue;
    const values = fields[el.name] ?? [];
    if (el instanceof HTMLInputElement && (el.type === "checkbox" || el.type === "radio"))
      el.checked = values.includes(el.value);
    else if (el instanceof HTMLSelectElement && el.multiple)
      for (const o of el.options) o.selected = values.includes(o.value);
    else if (values.length) {
      // Repeated names (the rows of a table) take their values in order.
      const i = (seen[el.name] = (seen[el.name] ?? -1) + 1);
      el.value = values[Math.min(i, values.length - 1)]!;
    } else continue;
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }
  const note = document.createElement("div");
  note.className = "flash flash-info";
  note.setAttribute("role", "status");
  note.textContent = "What you typed before signing in again is filled in below; it is not saved yet.";
  form.prepend(note);
  form.scrollIntoView({ block: "nearest" });
}

export const FORMS_SCRIPT = `(${formsScript.toString()})();\n`;
