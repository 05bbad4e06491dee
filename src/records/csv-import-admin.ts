import { Elysia } from "elysia";
import { exportCsv, importCsv, importColumns, type ImportReport } from "../csv/records-csv";
import { readCsvFile, spoolUpload, uploadsDir, type Upload } from "../csv/upload";
import { randomToken } from "../crypto-tokens";
import { ValidationError } from "../errors";
import type { SessionInfo } from "../domain/sessions";
import { flashCookie, requireSession } from "../http/auth";
import type { AppContext } from "../http/context";
import { humanSize } from "../http/human-size";
import { csvDownload, redirect } from "../http/responses";
import { adminPage } from "../http/admin/render";

/** An uploaded file waits on disk between its preview and the admin's "Import"; this process remembers which. */
const PENDING_TTL_MS = 30 * 60_000;
type Pending = { kind: "user" | "organization"; upload: Upload; userId: number; at: number };

const KINDS = {
  user: { base: "/people", plural: "People", byEmail: true, byName: false },
  organization: { base: "/organizations", plural: "Organizations", byEmail: false, byName: true },
} as const;

/**
 * CSV import (upload → preview with per-row errors → all-or-nothing import) and export,
 * for people and organizations.
 */
export function csvImportPages(ctx: AppContext) {
  const uploads = uploadsDir(ctx.config.dataDir);
  const pending = new Map<string, Pending>();
  const take = (id: string) => {
    const p = pending.get(id);
    pending.delete(id);
    p?.upload.remove();
  };
  const sweep = () => {
    for (const [id, p] of pending) if (Date.now() - p.at > PENDING_TTL_MS) take(id);
  };

  const page = async (request: Request, kind: Pending["kind"], data: Record<string, unknown>, status = 200) => {
    const session = await requireSession(ctx, request);
    const k = KINDS[kind];
    const view = {
      ...k,
      listHref: k.base,
      action: `${k.base}/import`,
      columns: (await importColumns(ctx.db, kind)).join(", "),
      maxBytes: ctx.config.importLimit,
      maxSize: humanSize(ctx.config.importLimit),
      ...data,
    };
    return adminPage(ctx, request, session, "csv-import", view, {
      title: `Import ${k.plural.toLowerCase()}`,
      section: kind === "user" ? "people" : "organizations",
      status,
    });
  };
  const reportView = (r: ImportReport, commitAction?: string) => ({
    report: {
      ...r,
      errorCount: new Set(r.errors.map((e) => e.line)).size,
      hasErrors: r.errors.length > 0,
      commitAction,
    },
  });

  /** An import by the signed-in admin of the spooled file: a dry run for the preview, then for real. */
  const importAs = (session: SessionInfo, kind: Pending["kind"], path: string, mode: { dryRun: boolean }) =>
    importCsv(ctx.db, ctx.events, kind, readCsvFile(path), { id: session.user.id, source: "import" }, mode);

  const routesFor = (kind: Pending["kind"]) => {
    const { base, plural } = KINDS[kind];
    return new Elysia()
      .get(
        `${base}/export.csv`,
        async ({ request }) => (
          await requireSession(ctx, request), csvDownload(await exportCsv(ctx, kind), plural.toLowerCase())
        ),
      )
      .get(`${base}/import`, ({ request }) => page(request, kind, {}))
      .post(`${base}/import`, async ({ request, body }) => {
        const session = await requireSession(ctx, request);
        const file = (body as Record<string, unknown> | undefined)?.file;
        if (!(file instanceof Blob) || file.size === 0)
          return page(request, kind, { errors: { file: "Choose a CSV file." } }, 422);
        const upload = await spoolUpload(uploads, file.stream());
        let report: ImportReport;
        try {
          report = await importAs(session, kind, upload.path, { dryRun: true });
        } catch (err) {
          upload.remove();
          // A file that is not CSV at all (not UTF-8, an unclosed quote, unknown columns) is shown at the file field.
          if (!(err instanceof ValidationError)) throw err;
          const details = err.details as { field: string; message: string }[];
          return page(
            request,
            kind,
            {
              errors: {
                file: details
                  .map((d) => (d.message.startsWith(d.field) ? d.message : `${d.field} ${d.message}`))
                  .join("; "),
              },
            },
            422,
          );
        }
        sweep();
        const id = randomToken(16);
        if (report.errors.length) upload.remove();
        else pending.set(id, { kind, upload, userId: session.user.id, at: Date.now() });
        return page(request, kind, reportView(report, `${base}/import/${id}`), report.errors.length ? 422 : 200);
      })
      .post(`${base}/import/:id`, async ({ request, params }) => {
        const session = await requireSession(ctx, request);
        const upload = pending.get(params.id);
        if (!upload || upload.kind !== kind || upload.userId !== session.user.id) {
          return redirect(request, `${base}/import`, [
            flashCookie(ctx, { kind: "error", message: "That preview has expired; upload the file again." }),
          ]);
        }
        let report: ImportReport;
        try {
          report = await importAs(session, kind, upload.upload.path, { dryRun: false });
        } finally {
          take(params.id);
        }
        if (!report.committed) return page(request, kind, reportView(report), 422);
        const message =
          `Imported ${report.rows} rows: ${report.created} created, ` +
          `${report.updated} updated, ${report.unchanged} unchanged.`;
        return redirect(request, base, [flashCookie(ctx, { kind: "success", message })]);
      });
  };
  return new Elysia().use(routesFor("user")).use(routesFor("organization"));
}
