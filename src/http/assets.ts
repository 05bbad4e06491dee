import { Elysia } from "elysia";
import css from "../../views/assets/app.css" with { type: "text" };
import { FORMS_SCRIPT } from "./admin/forms-script";
import { PAGE_SCRIPT } from "./admin/page-script";
import { PICKER_SCRIPT } from "./admin/picker-script";
import htmxPath from "htmx.org/dist/htmx.min.js" with { type: "file" };

const cache = { "Cache-Control": "public, max-age=3600" };

/** A script served from the binary (features serve their page scripts with it too), cached for an hour. */
export const scriptResponse = (source: string | Blob) =>
  new Response(source, { headers: { "Content-Type": "text/javascript; charset=utf-8", ...cache } });

/** Static assets, embedded in the binary: no CDN, no external fonts or scripts. */
export function assetRoutes() {
  const htmx = Bun.file(htmxPath);
  return new Elysia()
    .get(
      "/assets/app.css",
      () => new Response(css, { headers: { "Content-Type": "text/css; charset=utf-8", ...cache } }),
    )
    .get("/assets/forms.js", () => scriptResponse(FORMS_SCRIPT))
    .get("/assets/page.js", () => scriptResponse(PAGE_SCRIPT))
    .get("/assets/picker.js", () => scriptResponse(PICKER_SCRIPT))
    .get("/assets/htmx.min.js", () => scriptResponse(htmx));
}
