import type { SessionInfo } from "../../domain/sessions";
import { isErrorOf } from "../../errors";
import { renderFragment } from "../../views";
import { flashCookie } from "../auth";
import type { AppContext } from "../context";
import { html, redirect } from "../responses";
import { errorStatus, formErrors, htmxTarget, queryString } from "./forms";

/**
 * How one kind of record that tickets refer to (a person, an organization) is deleted from its page: the delete
 * zone says what happens, and when tickets still refer to the record it asks who or what takes them over
 * (reassign_to), then deletes.
 */
export type ReassigningDelete<T extends { id: number }> = {
  what: string;
  /** Where the list is: the record's page is `${list}/${id}`, and a deletion goes back to the list. */
  list: string;
  name: (record: T) => string;
  explain: string;
  reassignLabel: string;
  reassignHelp: string;
  /** The conflict shown when tickets refer to the record. */
  blocked: (record: T) => string;
  /** Appended to the success message when the tickets were reassigned. */
  reassigned: string;
  load: (id: number) => T;
  /** The id the typed reference (id, email, name…) names; throws an "invalid" error for reassign_to. */
  resolve: (typed: string) => number;
  remove: (id: number, session: SessionInfo, reassignTo: number | undefined) => void;
};

type ZoneState = {
  needsReassign?: boolean;
  conflict?: string | null;
  reassignValue?: string;
  reassignError?: string | null;
};

/** The delete zone's template data, first plain, then after a failed attempt (`state`). */
export function deleteZone<T extends { id: number }>(spec: ReassigningDelete<T>, record: T, state: ZoneState = {}) {
  return {
    what: spec.what,
    action: `${spec.list}/${record.id}/delete`,
    confirm: `Delete ${spec.name(record)}? This cannot be undone.`,
    explain: spec.explain,
    needsReassign: state.needsReassign ?? false,
    conflict: state.conflict ?? null,
    reassignLabel: spec.reassignLabel,
    reassignHelp: spec.reassignHelp,
    reassignValue: state.reassignValue ?? "",
    reassignError: state.reassignError ?? null,
  };
}

/**
 * The delete POST: deletes and goes back to the list, or shows the delete zone again asking where the tickets go
 * (alone for htmx, else in the whole record page, `page`).
 */
export function submitDelete<T extends { id: number }>(
  ctx: AppContext,
  spec: ReassigningDelete<T>,
  request: Request,
  session: SessionInfo,
  id: number,
  body: unknown,
  page: (del: ReturnType<typeof deleteZone>, status: number) => Response,
): Response {
  const typed = queryString((body as Record<string, unknown> | undefined)?.reassign_to);
  try {
    const reassignTo = typed.trim() ? spec.resolve(typed) : undefined;
    const record = spec.load(id);
    spec.remove(id, session, reassignTo);
    const note = reassignTo ? ` ${spec.reassigned}` : "";
    return redirect(request, spec.list, [
      flashCookie(ctx, { kind: "success", message: `${spec.name(record)} deleted.${note}` }),
    ]);
  } catch (err) {
    if (!isErrorOf(err, "conflict", "invalid")) throw err;
    const record = spec.load(id);
    // A conflict that lists tickets (details) means tickets still refer to the record.
    const ticketsLeft = err.kind === "conflict" && Array.isArray(err.details);
    const del = deleteZone(spec, record, {
      needsReassign: true,
      conflict: ticketsLeft ? spec.blocked(record) : err.kind === "conflict" ? err.message : null,
      reassignValue: typed,
      reassignError: err.kind === "invalid" ? (formErrors(err).reassign_to ?? err.message) : null,
    });
    if (htmxTarget(request) === "delete-zone")
      return html(renderFragment("delete-record", { del }, session.csrfToken), { status: errorStatus(err) });
    return page(del, errorStatus(err));
  }
}
