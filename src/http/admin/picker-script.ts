/**
 * The pickers' keyboard and mouse behaviour (/assets/picker.js); htmx fetches the suggestions into the listbox.
 * ↓/↑ move through the suggestions, Enter picks, Escape closes. Picking puts the id into the hidden input the
 * form submits; typing over a picked name clears it, so a half-edited name never submits a stale id.
 * It runs in the browser: self-contained, no imports.
 */
function pickerScript(): void {
  const parts = (el: Element) => {
    const root = el.closest<HTMLElement>("[data-picker]");
    if (!root) return null;
    return {
      root,
      input: root.querySelector<HTMLInputElement>("[role=combobox]")!,
      value: root.querySelector<HTMLInputElement>("[data-picker-value]")!,
      labels: root.querySelector<HTMLInputElement>("[data-picker-labels]"),
      list: root.querySelector<HTMLElement>("[role=listbox]")!,
      multiple: root.hasAttribute("data-multiple"),
    };
  };
  type Parts = NonNullable<ReturnType<typeof parts>>;

  const options = (p: Parts) => [...p.list.querySelectorAll<HTMLElement>(".picker-option")];
  const close = (p: Parts) => {
    p.list.replaceChildren();
    p.input.setAttribute("aria-expanded", "false");
    p.input.removeAttribute("aria-activedescendant");
  };
  const activate = (p: Parts, option: HTMLElement | undefined) => {
    for (const o of options(p)) o.setAttribute("aria-selected", String(o === option));
    if (!option) return p.input.removeAttribute("aria-activedescendant");
    p.input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  };

  /** The chips' ids and names into the hidden inputs the form submits. */
  const syncChips = (p: Parts) => {
    const chips = [...p.root.querySelectorAll<HTMLElement>(".chip")];
    p.value.value = chips.map((c) => c.dataset.value).join(",");
    if (p.labels) p.labels.value = JSON.stringify(chips.map((c) => c.querySelector(".chip-label")?.textContent ?? ""));
  };

  const pick = (p: Parts, option: HTMLElement) => {
    const value = option.dataset.value ?? "";
    const label = option.dataset.label ?? "";
    if (p.multiple) {
      const chips = p.root.querySelector(".picker-chips")!;
      if (![...chips.querySelectorAll<HTMLElement>(".chip")].some((c) => c.dataset.value === value)) {
        const chip = document.createElement("li");
        chip.className = "chip";
        chip.dataset.value = value;
        const name = document.createElement("span");
        name.className = "chip-label";
        name.textContent = label;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "chip-remove";
        remove.setAttribute("aria-label", `Remove ${label}`);
        remove.textContent = "×";
        chip.append(name, " ", remove);
        chips.append(chip);
        syncChips(p);
      }
      p.input.value = "";
    } else {
      p.value.value = value;
      p.input.value = label;
      p.input.dataset.pickedLabel = label;
    }
    p.value.dispatchEvent(new Event("change", { bubbles: true }));
    close(p);
    p.input.focus();
  };

  document.addEventListener("keydown", (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.getAttribute("role") !== "combobox") return;
    const p = parts(input);
    if (!p) return;
    const all = options(p);
    const current = all.findIndex((o) => o.getAttribute("aria-selected") === "true");
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!all.length) return;
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      activate(p, all[(current + step + all.length) % all.length]);
    } else if (event.key === "Enter" && all.length) {
      // Enter picks the highlighted suggestion (the first when none is): it never submits a half-picked form.
      event.preventDefault();
      pick(p, all[Math.max(current, 0)]!);
    } else if (event.key === "Escape" && p.list.children.length) {
      event.preventDefault();
      close(p);
    }
  });

  document.addEventListener("input", (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.getAttribute("role") !== "combobox") return;
    const p = parts(input);
    if (p && !p.multiple && input.value !== input.dataset.pickedLabel) p.value.value = "";
  });

  // mousedown, not click: the input keeps its focus, and the list is still there when the pick is made.
  document.addEventListener("mousedown", (event) => {
    const option = (event.target as Element | null)?.closest?.<HTMLElement>(".picker-option");
    const p = option && parts(option);
    if (!option || !p) return;
    event.preventDefault();
    pick(p, option);
  });

  document.addEventListener("click", (event) => {
    const remove = (event.target as Element | null)?.closest?.(".chip-remove");
    const p = remove && parts(remove);
    if (!remove || !p) return;
    const chip = remove.closest(".chip");
    // Focus moves to the next chip's ×, not the input, which would open the suggestions over the page.
    const next = (chip?.nextElementSibling ?? chip?.previousElementSibling)?.querySelector<HTMLElement>(".chip-remove");
    chip?.remove();
    syncChips(p);
    next?.focus();
  });

  document.addEventListener("focusout", (event) => {
    const p = event.target instanceof Element && parts(event.target);
    if (p && !p.root.contains(event.relatedTarget as Node | null)) close(p);
  });

  // Suggestions arrive by htmx: the combobox says whether its list is open.
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      const list = m.target instanceof HTMLElement && m.target.getAttribute("role") === "listbox" ? m.target : null;
      const p = list && parts(list);
      if (p) p.input.setAttribute("aria-expanded", String(p.list.children.length > 0));
    }
  }).observe(document.body, { childList: true, subtree: true });
}

export const PICKER_SCRIPT = `(${pickerScript.toString()})();\n`;
