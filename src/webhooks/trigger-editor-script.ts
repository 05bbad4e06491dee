/**
 * The trigger editor's script (/assets/trigger-editor.js): adds and removes condition rows, offers the
 * fields of the chosen events (from the event catalogue, in the form's data-catalogue), narrows the
 * operators to the field's type and turns the value into a picker where the values are known (states,
 * priorities, groups, organizations, roles, yes/no). Without it the form still works: every row is a
 * text field, an operator list and a text value. Self-contained: it runs in the browser as its source.
 */
function triggerEditor(): void {
  type Catalogue = {
    events: Record<string, string[]>;
    fields: Record<string, { type: string; choices: string | null }>;
    choices: Record<string, string[]>;
    operators: { value: string; label: string; types: string[] }[];
    valueless: string[];
  };
  const form = document.getElementById("trigger-form");
  const rows = document.getElementById("condition-rows");
  const template = document.getElementById("condition-row-template");
  if (!(form instanceof HTMLFormElement) || !rows || !(template instanceof HTMLTemplateElement)) return;
  const data = JSON.parse(form.dataset.catalogue ?? "{}") as Catalogue;
  let next = Number(rows.dataset.next ?? rows.children.length);

  const chosenEvents = () =>
    [...form.querySelectorAll<HTMLInputElement>("input[name=events]:checked")].map((i) => i.value);
  /** The fields of the chosen events; all fields until one is chosen. */
  const knownPaths = () => {
    const events = chosenEvents();
    return new Set((events.length ? events : Object.keys(data.events)).flatMap((e) => data.events[e] ?? []));
  };
  const isOpen = (path: string) => /(^|\.)(traits|changes)\./.test(path);

  const showFieldError = (row: HTMLElement, message: string) => {
    const slot = row.querySelector(".cond-field-error");
    const input = row.querySelector<HTMLSelectElement>(".cond-field");
    if (!slot || !input) return;
    slot.textContent = message;
    input.setAttribute("aria-invalid", message ? "true" : "false");
  };

  // Open sets (groups, organizations: many, and growing) are typed with suggestions; fixed sets are chosen from a list.
  const OPEN_SETS = ["groups", "organizations"];
  for (const set of OPEN_SETS) {
    const list = document.createElement("datalist");
    list.id = `choices-${set}`;
    list.append(...(data.choices[set] ?? []).map((c) => new Option(c, c)));
    form.append(list);
  }

  const valueWidget = (name: string, id: string, values: string[], set: string | null, multiple: boolean) => {
    const choices = set && !OPEN_SETS.includes(set) ? (data.choices[set] ?? null) : null;
    if (choices) {
      const select = document.createElement("select");
      select.multiple = multiple;
      if (multiple) select.size = Math.min(6, choices.length);
      const lower = values.map((v) => v.toLowerCase());
      for (const c of choices) select.add(new Option(c, c, false, lower.includes(c.toLowerCase())));
      if (!multiple && !lower.some((v) => choices.some((c) => c.toLowerCase() === v))) select.selectedIndex = 0;
      return Object.assign(select, { name, id, className: "cond-value" });
    }
    const input = document.createElement("input");
    if (set) input.setAttribute("list", `choices-${set}`);
    return Object.assign(input, { name, id, className: "cond-value", value: values.join(", ") });
  };

  /** Fits the operator list and the value widget to the row's field. */
  const fitRow = (row: HTMLElement) => {
    const field = row.querySelector<HTMLSelectElement>(".cond-field");
    const operator = row.querySelector<HTMLSelectElement>(".cond-operator");
    const cell = row.querySelector<HTMLElement>(".cond-value-cell");
    const old = cell?.querySelector<HTMLInputElement | HTMLSelectElement>(".cond-value");
    if (!field || !operator || !cell || !old) return;
    const path = field.value.trim();
    const info = data.fields[path];
    const wanted = operator.value;
    const operators = data.operators.filter((o) => !info || o.types.includes(info.type));
    operator.replaceChildren(...operators.map((o) => new Option(o.label, o.value, false, o.value === wanted)));
    if (!operators.some((o) => o.value === wanted)) operator.selectedIndex = 0;
    const values =
      old instanceof HTMLSelectElement
        ? [...old.selectedOptions].map((o) => o.value)
        : old.value.split(",").map((v) => v.trim());
    const single = old instanceof HTMLSelectElement ? values : [old.value];
    const valueless = data.valueless.includes(operator.value);
    const multiple = operator.value === "in";
    const widget = valueWidget(old.name, old.id, multiple ? values : single, info?.choices ?? null, multiple);
    widget.disabled = valueless;
    widget.setAttribute("aria-label", "Value");
    old.replaceWith(widget);
    showFieldError(
      row,
      path && !isOpen(path) && !knownPaths().has(path) ? `unknown field ${path}: pick one the chosen events offer` : "",
    );
  };

  /** Offers each row the chosen events' fields, keeping a chosen field they lack (it is marked unknown). */
  const fillFieldList = () => {
    const paths = [...knownPaths()].sort();
    for (const row of rows.querySelectorAll<HTMLElement>(".condition-row")) {
      const field = row.querySelector<HTMLSelectElement>(".cond-field");
      if (!field) continue;
      const current = field.value;
      const choices = current && !paths.includes(current) ? [current, ...paths] : paths;
      field.replaceChildren(
        new Option("(no condition)", ""),
        ...choices.map((p) => new Option(p, p, false, p === current)),
      );
      fitRow(row);
    }
  };

  const addRow = () => {
    const html = template.innerHTML.replaceAll("__i__", String(next++));
    rows.insertAdjacentHTML("beforeend", html);
    const row = rows.lastElementChild as HTMLElement;
    fillFieldList();
    row.querySelector<HTMLSelectElement>(".cond-field")?.focus();
  };

  form.addEventListener("change", (event) => {
    const target = event.target as HTMLElement;
    if (target instanceof HTMLInputElement && target.name === "events") fillFieldList();
    const row = target.closest<HTMLElement>(".condition-row");
    if (row && (target.classList.contains("cond-field") || target.classList.contains("cond-operator"))) fitRow(row);
  });
  form.addEventListener("click", (event) => {
    const target = event.target as HTMLElement;
    if (target.closest("#add-condition")) {
      event.preventDefault();
      addRow();
    }
    const remove = target.closest(".cond-remove");
    if (remove) {
      event.preventDefault();
      remove.closest(".condition-row")?.remove();
      // The live preview follows the rows.
      form.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  // A form kept while its admin signed in again (kept-forms.ts) may have more rows than the page: add them.
  const kept = document.getElementById("kept-form");
  if (kept && kept.dataset.action === form.getAttribute("action")) {
    const fields = JSON.parse(kept.dataset.fields ?? "{}") as Record<string, string[]>;
    for (const name of Object.keys(fields)) {
      const index = /^cond_field_(\d+)$/.exec(name)?.[1];
      if (index === undefined || form.elements.namedItem(name)) continue;
      const after = Math.max(next, Number(index) + 1);
      next = Number(index);
      addRow();
      next = after;
      const row = rows.lastElementChild as HTMLElement;
      const set = (selector: string, value: string | undefined) => {
        const el = row.querySelector<HTMLInputElement | HTMLSelectElement>(selector);
        if (el instanceof HTMLSelectElement && value && ![...el.options].some((o) => o.value === value))
          el.add(new Option(value, value));
        if (el && value !== undefined) el.value = value;
      };
      set(".cond-field", fields[name]?.[0]);
      fitRow(row);
      set(".cond-operator", fields[`cond_operator_${index}`]?.[0]);
      fitRow(row);
      set(".cond-value", fields[`cond_value_${index}`]?.join(", "));
    }
  }
  document.getElementById("add-condition")?.removeAttribute("hidden");
  fillFieldList();
}

export const TRIGGER_EDITOR_SCRIPT = `(${triggerEditor.toString()})();\n`;
