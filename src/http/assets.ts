import { Elysia } from "elysia";
import css from "../../views/assets/app.css" with { type: "text" };
import { FORMS_SCRIPT } from "./admin/forms-script";
import { PAGE_SCRIPT } from "./admin/page-script";
import { PICKER_SCRIPT } from "./admin/picker-script";
import htmxPath from "htmx.org/dist/htmx.min.js" with { type: "file" };

/** Static assets, embedded in the binary: no CDN, no external fonts or scripts. */
export function assetRoutes() {
  const cache = { "Cache-Control": "public, max-age=3600" };
  const htmx = Bun.file(htmxPath);
  return new Elysia()
    .get(
      "/assets/app.css",
      () => new Response(css, { headers: { "Content-Type": "text/css; charset=utf-8", ...cache } }),
    )
    .get(
      "/assets/forms.js",
      () => new Response(FORMS_SCRIPT, { headers: { "Content-Type": "text/javascript; charset=utf-8", ...cache } }),
    )
    .get(
      "/assets/page.js",
      () => new Response(PAGE_SCRIPT, { headers: { "Content-Type": "text/javascript; charset=utf-8", ...cache } }),
    )
    .get(
      "/assets/picker.js",
      () => new Response(PICKER_SCRIPT, { headers: { "Content-Type": "text/javascript; charset=utf-8", ...cache } }),
    )
    .get(
      "/assets/htmx.min.js",
      () => new Response(htmx, { headers: { "Content-Type": "text/javascript; charset=utf-8", ...cache } }),
    );
}
