/** One step of a breadcrumb trail; the last (the page itself) has no link. */
export type Crumb = { label: string; href?: string };

/** The list page each detail page belongs to, by the first segment of its path. */
const LISTS: Record<string, string> = {
  people: "People",
  organizations: "Organizations",
  tickets: "Tickets",
  groups: "Groups",
  "custom-fields": "Custom fields",
  logs: "HTTP log",
  integrations: "Integrations",
  webhooks: "Webhooks",
  triggers: "Triggers",
  "crm-sync": "CRM Sync",
  account: "Account",
};

/**
 * The trail of a page below a list (a detail, an edit or a sub-page): the list, then the page. Pages
 * that know better (named steps in between) pass their own; list pages have none.
 */
export function breadcrumbsOf(pathname: string, title: string): Crumb[] | null {
  const [first, ...rest] = pathname.split("/").filter(Boolean);
  const list = first && LISTS[first];
  if (!list || !rest.length) return null;
  return [{ label: list, href: `/${first}` }, { label: title }];
}
