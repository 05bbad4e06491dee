import { isPathToken } from "../http/params";
import { Elysia } from "elysia";
import { exportCsv, importCsv, importColumns, type ImportReport } from "../csv/records-csv";
import { keepUpload, takeUpload } from "../csv/pending-uploads";
import { readCsvFile, spoolUpload, uploadsDir } from "../csv/upload";
import { ValidationError } from "../errors";
import type { SessionInfo } from "../domain/sessions";
import { flashCookie, requireSession } from "../http/auth";
import type { AppContext } from "../http/context";
import { humanSize } from "../http/human-size";
import { csvDownload, redirect } from "../http/responses";
import { adminPage } from "../http/admin/render";

type Kind = "user" | "organization";

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

  const page = async (request: Request, kind: Kind, data: Record<string, unknown>, status = 200) => {
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
  const importAs = (session: SessionInfo, kind: Kind, path: string, mode: { dryRun: boolean }) =>
    importCsv(ctx.db, ctx.events, kind, readCsvFile(path), { id: session.user.id, source: "import" }, mode);

  const routesFor = (kind: Kind) => {
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
        // A file without errors waits (in the database: "Import" may reach another node) for its import.
        let commitAction: string | undefined;
        try {
          if (!report.errors.length)
            commitAction = `${base}/import/${await keepUpload(ctx.db, upload, { kind, userId: session.user.id })}`;
        } finally {
          upload.remove();
        }
        return page(request, kind, reportView(report, commitAction), report.errors.length ? 422 : 200);
      })
      .post(`${base}/import/:id`, async ({ request, params }) => {
        const session = await requireSession(ctx, request);
        const owner = { kind, userId: session.user.id };
        const upload = isPathToken(params.id) ? await takeUpload(ctx.db, uploads, params.id, owner) : null;
        if (!upload) {
          return redirect(request, `${base}/import`, [
            flashCookie(ctx, { kind: "error", message: "That preview has expired; upload the file again." }),
          ]);
        }
        let report: ImportReport;
        try {
          report = await importAs(session, kind, upload.path, { dryRun: false });
        } finally {
          upload.remove();
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
