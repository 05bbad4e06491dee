import { pathId } from "../http/params";
import { Elysia } from "elysia";
import { createGroup, deleteGroup, getGroupRow, groupJson, listGroups, updateGroup } from "../domain/groups";
import type { SessionInfo } from "../domain/sessions";
import { describeUsers } from "../domain/users";
import { isErrorOf } from "../errors";
import { renderFragment } from "../views";
import { flashCookie, requireSession } from "../http/auth";
import type { AppContext } from "../http/context";
import { html, redirect } from "../http/responses";
import { formView, htmxTarget, parseForm, submitRecordForm, uiActor, type FieldSpec } from "../http/admin/forms";
import { withPickedLabels, type PickerSources } from "../http/admin/pickers";
import { personName, shortTime } from "../http/admin/present";
import { adminPage } from "../http/admin/render";

const GROUP_FIELDS: FieldSpec[] = [
  { name: "name", label: "Name", kind: "text", required: true, autocomplete: "off" },
  {
    name: "user_ids",
    label: "Members",
    kind: "picks",
    source: "people",
    placeholder: "Search people to add…",
    help: "Search by name or email and pick; × removes a member.",
    wide: true,
  },
  { name: "note", label: "Note", kind: "textarea" },
  { name: "active", label: "Active", kind: "checkbox" },
];

/** Groups (Settings): list, create, edit members, delete. */
export function groupPages(ctx: AppContext, pickers: PickerSources) {
  const { db, events } = ctx;

  const newForm = { action: "/groups", submitLabel: "Create group", specs: GROUP_FIELDS };
  const editForm = (id: number) => ({
    action: `/groups/${id}`,
    submitLabel: "Save group",
    cancelHref: "/groups",
    specs: GROUP_FIELDS,
  });

  const listPage = async (request: Request, session: SessionInfo, form?: unknown, status = 200) => {
    const groups = (await listGroups(db)).map((g) => ({
      ...g,
      memberCount: g.user_ids.length,
      updated: shortTime(g.updated_at),
    }));
    const data = {
      groups,
      form: form ?? formView({ ...newForm, values: { active: true, user_ids: [] } }),
    };
    return adminPage(ctx, request, session, "groups", data, { title: "Groups", section: "settings", status });
  };

  const groupPage = async (
    request: Request,
    session: SessionInfo,
    id: number,
    extra: { form?: unknown; conflict?: string; status?: number } = {},
  ) => {
    const g = await groupJson(db, await getGroupRow(db, id));
    const people = await describeUsers(db, g.user_ids);
    const data = {
      group: { ...g, created: shortTime(g.created_at), updated: shortTime(g.updated_at) },
      members: g.user_ids.map((uid) => {
        const u = people.get(uid);
        return { id: uid, name: u ? personName(u) : `#${uid}`, email: u?.email ?? null };
      }),
      form: extra.form ?? formView({ ...editForm(id), values: await withPickedLabels(pickers, GROUP_FIELDS, g) }),
      del: {
        what: "group",
        action: `/groups/${id}/delete`,
        confirm: `Delete the group ${g.name}?`,
        explain: "Members stay; only the group goes. A group that tickets belong to cannot be deleted.",
        needsReassign: false,
        conflict: extra.conflict ?? null,
      },
    };
    return adminPage(ctx, request, session, "group", data, {
      title: g.name,
      section: "settings",
      status: extra.status,
    });
  };

  return new Elysia()
    .get("/groups", async ({ request }) => listPage(request, await requireSession(ctx, request)))
    .post("/groups", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      const save = async () => {
        const g = await createGroup(db, events, parseForm(body, GROUP_FIELDS), uiActor(session));
        return { to: "/groups", message: `Group ${g.name} created.` };
      };
      return submitRecordForm(ctx, request, session, body, newForm, save, (form, status) =>
        listPage(request, session, form, status),
      );
    })
    .get("/groups/:id", async ({ request, params }) =>
      groupPage(request, await requireSession(ctx, request), pathId(params.id, "group")),
    )
    .post("/groups/:id", async ({ request, params, body }) => {
      const session = await requireSession(ctx, request);
      const id = pathId(params.id, "group");
      const save = async () => {
        const g = await updateGroup(db, events, id, parseForm(body, GROUP_FIELDS), uiActor(session));
        return { to: `/groups/${id}`, message: `Group ${g.name} saved.` };
      };
      return submitRecordForm(ctx, request, session, body, editForm(id), save, (form, status) =>
        groupPage(request, session, id, { form, status }),
      );
    })
    .post("/groups/:id/delete", async ({ request, params }) => {
      const session = await requireSession(ctx, request);
      const id = pathId(params.id, "group");
      try {
        const g = await getGroupRow(db, id);
        await deleteGroup(db, events, id, uiActor(session));
        return redirect(request, "/groups", [
          flashCookie(ctx, { kind: "success", message: `Group ${g.name} deleted.` }),
        ]);
      } catch (err) {
        if (!isErrorOf(err, "conflict")) throw err;
        const conflict = "Tickets belong to this group. Move them to another group first, then delete it.";
        if (htmxTarget(request) === "delete-zone") {
          const del = {
            what: "group",
            action: `/groups/${id}/delete`,
            confirm: "Delete this group?",
            explain: "",
            needsReassign: false,
            conflict,
          };
          return html(renderFragment("delete-record", { del }, session.csrfToken), { status: 409 });
        }
        return groupPage(request, session, id, { conflict, status: 409 });
      }
    });
}
