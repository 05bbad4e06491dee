import { pathId } from "../http/params";
import { Elysia } from "elysia";
import {
  createCustomField,
  deleteCustomField,
  getCustomField,
  listCustomFields,
  updateCustomField,
  type CustomField,
} from "../domain/custom-fields";
import type { SessionInfo } from "../domain/sessions";
import { flashCookie, requireSession } from "../http/auth";
import type { AppContext } from "../http/context";
import { redirect } from "../http/responses";
import { formView, parseForm, submitRecordForm, uiActor, type FieldSpec } from "../http/admin/forms";
import { adminPage } from "../http/admin/render";

const OBJECTS = { user: "People", organization: "Organizations" } as const;
const TYPES = [
  { value: "text", label: "Text" },
  { value: "number", label: "Number" },
  { value: "boolean", label: "Yes/no" },
  { value: "date", label: "Date" },
  { value: "select", label: "Select (a list of options)" },
];
const OPTIONS: FieldSpec = {
  name: "options",
  label: "Options",
  kind: "lines",
  help: "For select fields: one option per line.",
};

const NEW_FIELD: FieldSpec[] = [
  {
    name: "object_type",
    label: "For",
    kind: "select",
    required: true,
    options: Object.entries(OBJECTS).map(([value, label]) => ({ value, label })),
  },
  {
    name: "label",
    label: "Label",
    kind: "text",
    required: true,
    autocomplete: "off",
    help: "What forms and pages show, e.g. Customer tier.",
  },
  {
    name: "name",
    label: "Name",
    kind: "text",
    required: true,
    autocomplete: "off",
    help: "The API name in snake_case, e.g. customer_tier. It cannot change later.",
  },
  { name: "type", label: "Type", kind: "select", required: true, options: TYPES },
  OPTIONS,
  { name: "required", label: "Required when a record is created", kind: "checkbox" },
];

/** What can change after creation: the label, a select's options, whether it is required. */
const editSpecs = (f: CustomField): FieldSpec[] => [
  { name: "label", label: "Label", kind: "text", required: true, autocomplete: "off" },
  ...(f.type === "select" ? [OPTIONS] : []),
  { name: "required", label: "Required when a record is created", kind: "checkbox" },
];

const fieldRow = (f: CustomField) => ({
  ...f,
  typeLabel: TYPES.find((t) => t.value === f.type)?.label ?? f.type,
  optionList: f.options.join(", "),
});

/** Custom fields of people and organizations (Settings): define, edit label and options, delete. */
export function customFieldPages(ctx: AppContext) {
  const { db, events } = ctx;

  const newForm = { action: "/custom-fields", submitLabel: "Add field", specs: NEW_FIELD };
  const editForm = (id: number, specs: FieldSpec[]) => ({
    action: `/custom-fields/${id}`,
    submitLabel: "Save field",
    cancelHref: "/custom-fields",
    specs,
  });

  const listPage = async (request: Request, session: SessionInfo, form?: unknown, status = 200) => {
    const all = await listCustomFields(db);
    const sections = Object.entries(OBJECTS).map(([type, label]) => ({
      type,
      label,
      fields: all.filter((f) => f.objectType === type).map(fieldRow),
    }));
    const data = {
      sections,
      form: form ?? formView({ ...newForm, values: { object_type: "user", type: "text" } }),
    };
    return adminPage(ctx, request, session, "custom-fields", data, {
      title: "Custom fields",
      section: "settings",
      status,
    });
  };

  const fieldPage = async (request: Request, session: SessionInfo, id: number, form?: unknown, status = 200) => {
    const f = await getCustomField(db, id);
    const data = {
      field: { ...fieldRow(f), objectLabel: OBJECTS[f.objectType] },
      form: form ?? formView({ ...editForm(id, editSpecs(f)), values: f }),
      del: {
        what: "field",
        action: `/custom-fields/${id}/delete`,
        confirm: `Delete the field ${f.label}? Stored values are no longer shown.`,
        explain: "Values already stored stay in the records but are no longer shown, validated or sent.",
        needsReassign: false,
        conflict: null,
      },
    };
    return adminPage(ctx, request, session, "custom-field", data, { title: f.label, section: "settings", status });
  };

  return new Elysia()
    .get("/custom-fields", async ({ request }) => listPage(request, await requireSession(ctx, request)))
    .post("/custom-fields", async ({ request, body }) => {
      const session = await requireSession(ctx, request);
      const save = async () => {
        const f = await createCustomField(db, events, parseForm(body, NEW_FIELD), uiActor(session));
        return { to: "/custom-fields", message: `Field ${f.label} added to ${OBJECTS[f.objectType].toLowerCase()}.` };
      };
      return submitRecordForm(ctx, request, session, body, newForm, save, (form, status) =>
        listPage(request, session, form, status),
      );
    })
    .get("/custom-fields/:id", async ({ request, params }) =>
      fieldPage(request, await requireSession(ctx, request), pathId(params.id, "custom field")),
    )
    .post("/custom-fields/:id", async ({ request, params, body }) => {
      const session = await requireSession(ctx, request);
      const id = pathId(params.id, "custom field");
      const specs = editSpecs(await getCustomField(db, id));
      const save = async () => {
        const f = await updateCustomField(db, events, id, parseForm(body, specs), uiActor(session));
        return { to: "/custom-fields", message: `Field ${f.label} saved.` };
      };
      return submitRecordForm(ctx, request, session, body, editForm(id, specs), save, (form, status) =>
        fieldPage(request, session, id, form, status),
      );
    })
    .post("/custom-fields/:id/delete", async ({ request, params }) => {
      const session = await requireSession(ctx, request);
      const id = pathId(params.id, "custom field");
      const f = await getCustomField(db, id);
      await deleteCustomField(db, events, id, uiActor(session));
      return redirect(request, "/custom-fields", [
        flashCookie(ctx, { kind: "success", message: `Field ${f.label} deleted.` }),
      ]);
    });
}
