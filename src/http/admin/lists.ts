import type { Count } from "../../domain/records";
import type { SessionInfo } from "../../domain/sessions";
import { renderFragment } from "../../views";
import type { AppContext } from "../context";
import { html } from "../responses";
import { htmxTarget, queryString } from "./forms";
import { shortTime } from "./present";
import { adminPage } from "./render";

/**
 * The searchable, sortable, paged lists (people, organizations, tickets) share one page and one
 * set of fragments: the whole results (search, sort) and more rows (Load more).
 */
export type Cell = {
  text: string;
  href?: string | null;
  badge?: string | null;
  sub?: string | null;
  cls?: string | null;
};
/** A list cell with a time (created, updated, last seen), kept on one line. */
export const timeCell = (iso: string | null | undefined): Cell => ({ text: shortTime(iso), cls: "nowrap" });

type Column = { key: string; label: string; sortable?: boolean; cls?: string };
type Filter = { name: string; label: string; choices: { value: string; label: string }[] };

export type ListSpec = {
  path: string;
  title: string;
  section: string;
  heading: string;
  intro?: string;
  newHref?: string;
  newLabel?: string;
  /** Offers "Import CSV" ({csv}/import) and "Export CSV" ({csv}/export.csv) when set. */
  csv?: string;
  searchLabel: string;
  searchPlaceholder: string;
  /** What the list says when there is nothing at all (no search, no filter): "No people yet." */
  empty: string;
  /** What the rows are, singular and plural: "person", "people". */
  noun: [string, string];
  columns: Column[];
  filters?: Filter[];
  /** The default sort of the list when none is asked for. */
  defaultSort?: { sort: string; order: "asc" | "desc" };
};

export const PAGE_SIZE = 25;
/** List cells longer than this are clipped, with the full text on hover. */
const CLIP_AT = 80;

/** The list's state as the URL carries it: search, filters, sort, cursor. */
export function listQuery(spec: ListSpec, query: Record<string, unknown>) {
  const sortable = spec.columns.filter((c) => c.sortable).map((c) => c.key);
  const sortAsked = queryString(query.sort);
  const sort = sortable.includes(sortAsked) ? sortAsked : spec.defaultSort?.sort;
  const order =
    queryString(query.order) === "desc"
      ? "desc"
      : queryString(query.order) === "asc"
        ? "asc"
        : (spec.defaultSort?.order ?? "asc");
  const filters: Record<string, string> = {};
  for (const f of spec.filters ?? []) {
    const v = queryString(query[f.name]);
    if (f.choices.some((c) => c.value === v && v !== "")) filters[f.name] = v;
  }
  return {
    q: queryString(query.q).slice(0, 200),
    sort,
    order,
    filters,
    cursor: queryString(query.cursor) || undefined,
    /** How many rows the pages before this one showed (Load more carries it along). */
    shown: /^\d{1,9}$/.test(queryString(query.shown)) && query.cursor ? Number(query.shown) : 0,
  } as const;
}
export type ListQuery = ReturnType<typeof listQuery>;

/** One page of the list as the domain's list functions take it (their sort names are the columns' keys). */
export const pageQuery = <Sort extends string | undefined>(q: ListQuery) => ({
  q: q.q || undefined,
  sort: q.sort as Sort,
  order: q.order,
  cursor: q.cursor,
  limit: PAGE_SIZE,
});

const number = (n: number) => n.toLocaleString("en-US");

/** A count as every admin page shows it: exact up to the cap, "10,000+" beyond (counting stops there). */
export const countText = (total: Count) => `${number(total.count)}${total.capped ? "+" : ""}`;

/**
 * The list's one status line: how many rows are shown of how many match ("Showing 50 of 5,000 people"),
 * or, when none do, the one message that says so.
 */
function listStatus(spec: ListSpec, q: ListQuery, rows: number, total: Count, appended: boolean): string {
  const matching = q.q ? ` matching “${q.q}”` : "";
  if (total.count === 0) {
    if (q.q) return `No ${spec.noun[1]} match “${q.q}”.`;
    return Object.keys(q.filters).length ? `No ${spec.noun[1]} match these filters.` : spec.empty;
  }
  const upTo = q.shown + rows;
  // A page reached without JavaScript shows its own rows: "51–75 of …".
  const shown = q.shown > 0 && !appended ? `${number(q.shown + 1)}–${number(upTo)}` : number(upTo);
  const noun = total.count === 1 && !total.capped ? spec.noun[0] : spec.noun[1];
  const estimate = total.capped ? ` (counting stops at ${number(total.count)})` : "";
  return `Showing ${shown} of ${countText(total)} ${noun}${matching}${estimate}`;
}

function href(path: string, params: Record<string, string | undefined>): string {
  const qs = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => !!e[1])).toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * Answers a list request: the full page, or for htmx the fragment it swaps (#list-results on
 * search and sort, #list-more on Load more).
 */
export async function listResponse(
  ctx: AppContext,
  request: Request,
  session: SessionInfo,
  spec: ListSpec,
  q: ListQuery,
  page: { rows: Cell[][]; nextCursor: string | null; total: Count },
): Promise<Response> {
  const base = { q: q.q || undefined, ...q.filters, sort: q.sort, order: q.order };
  const columns = spec.columns.map((c) => {
    const active = c.sortable && q.sort === c.key;
    const nextOrder = active && q.order === "asc" ? "desc" : "asc";
    return {
      label: c.label,
      cls: c.cls ?? null,
      sortHref: c.sortable ? href(spec.path, { ...base, sort: c.key, order: nextOrder }) : null,
      ariaSort: active ? (q.order === "asc" ? "ascending" : "descending") : null,
      mark: active ? (q.order === "asc" ? " ▲" : " ▼") : "",
    };
  });
  const rows = page.rows.map((cells) => ({
    cells: cells.map((c) => ({
      text: c.text,
      // Long text is clipped to two lines; the whole of it is the title, shown on hover.
      title: c.text.length > CLIP_AT ? c.text : null,
      href: c.href ?? null,
      badge: c.badge ?? null,
      sub: c.sub ?? null,
      cls: c.cls ?? null,
    })),
  }));
  const target = htmxTarget(request);
  const shown = String(q.shown + rows.length);
  const data = {
    ...spec,
    q: q.q,
    columns,
    rows,
    state: { sort: q.sort ?? "", order: q.order },
    status: listStatus(spec, q, rows.length, page.total, target === "list-more"),
    appending: !!q.cursor,
    moreHref: page.nextCursor ? href(spec.path, { ...base, cursor: page.nextCursor, shown }) : null,
    firstHref: q.cursor ? href(spec.path, base) : null,
    filters: (spec.filters ?? []).map((f) => ({
      ...f,
      choices: f.choices.map((c) => ({ ...c, selected: (q.filters[f.name] ?? "") === c.value })),
    })),
  };
  // Load more appends rows and brings the status line up to date.
  if (target === "list-more") return html(renderFragment("list-rows", { ...data, oobStatus: true }, session.csrfToken));
  if (target === "list-results")
    return html(
      renderFragment("list-results", { ...data, appending: false, firstHref: null, oob: true }, session.csrfToken),
    );
  return adminPage(ctx, request, session, "list", data, { title: spec.title, section: spec.section });
}
