/**
 * What a browser would submit from the form posting to `action` on a page, as it renders: the value
 * of each input, the selected option of each select (the first when none is marked, as browsers do),
 * the text of each textarea and the checked boxes. Hidden inputs, passwords and the CSRF token are left out.
 */
export async function formState(html: string, action: string): Promise<Record<string, string | string[]>> {
  const out: Record<string, string | string[]> = {};
  const add = (name: string, value: string) => {
    const prev = out[name];
    out[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  };
  let inForm = false;
  let select: { name: string; first: string | null; chosen: string | null } | null = null;
  const endSelect = () => {
    if (select) {
      const v = select.chosen ?? select.first;
      if (v !== null) add(select.name, v);
    }
    select = null;
  };
  let textarea: { name: string; text: string } | null = null;
  await new HTMLRewriter()
    .on("form", {
      element(el) {
        // Mustache escapes "/" in attributes: compare the action as a browser reads it.
        inForm = decode(el.getAttribute("action") ?? "") === action;
        el.onEndTag(() => {
          inForm = false;
        });
      },
    })
    .on("input", {
      element(el) {
        if (!inForm) return;
        const name = el.getAttribute("name");
        const type = (el.getAttribute("type") ?? "text").toLowerCase();
        if (!name || ["hidden", "password", "submit", "file"].includes(type)) return;
        if (type === "checkbox" || type === "radio") {
          if (el.hasAttribute("checked")) add(name, decode(el.getAttribute("value") ?? "on"));
        } else add(name, decode(el.getAttribute("value") ?? ""));
      },
    })
    .on("select", {
      element(el) {
        if (!inForm) return;
        endSelect();
        select = { name: el.getAttribute("name") ?? "", first: null, chosen: null };
        el.onEndTag(endSelect);
      },
    })
    .on("option", {
      element(el) {
        if (!select) return;
        const value = decode(el.getAttribute("value") ?? "");
        select.first ??= value;
        if (el.hasAttribute("selected") && select.chosen === null) select.chosen = value;
      },
    })
    .on("textarea", {
      element(el) {
        if (!inForm) return;
        const t = { name: el.getAttribute("name") ?? "", text: "" };
        textarea = t;
        el.onEndTag(() => {
          if (t.name) add(t.name, decode(t.text).replace(/^\n/, ""));
          textarea = null;
        });
      },
      text(chunk) {
        if (textarea) textarea.text += chunk.text;
      },
    })
    .transform(new Response(html))
    .text();
  return out;
}

const decode = (s: string) =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
