//! Importing a backup archive (`.tar.zst`, as Backups → download gives it) as a new instance:
//! the upload shows its progress, then the import operation its steps; the new instance opens
//! when it is done.

import { ApiError, enc, message, upload, type S } from "./api";
import { bytes, card, clearErrors, field, formError, h, mount, setFieldError, showError } from "./dom";
import { progressView } from "./progress";
import { checkText, NAME_FORM } from "./rules";
import { follow } from "./ops";



export function importForm(): HTMLElement {
  const file = h("input", { type: "file", name: "archive", accept: ".zst,.tar.zst,application/zstd", required: true });
  const name = h("input", { name: "import-name", autocomplete: "off", spellcheck: "false", placeholder: "the name in the backup" });
  const submit = h("button", { type: "submit", class: "primary" }, "Upload and import");
  const err = formError();
  const progress = h("div", { class: "progress-box" });
  const form = h(
    "form",
    { "aria-label": "Import a backup" },
    h("div", { class: "row wrap" }, field("Backup archive (.tar.zst)", file), field("New instance name (optional)", name, "Empty: the name in the backup, which must be free.")),
    err,
    h("div", { class: "actions" }, submit),
  );
  name.addEventListener("input", () => setFieldError(name, checkText("CreateInstanceRequest.name", name.value, NAME_FORM)));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const archive = file.files?.[0];
    if (!archive) return setFieldError(file, "choose the archive to upload"), file.focus();
    const bad = checkText("CreateInstanceRequest.name", name.value.trim(), NAME_FORM);
    if (bad) return setFieldError(name, bad), name.focus();
    submit.disabled = true;
    const view = progressView(`Importing ${archive.name}`);
    mount(progress, view.el);
    const path = name.value.trim() ? `/instances?name=${enc(name.value.trim())}` : "/instances";
    try {
      const env = await upload<S["OperationEnvelope"]>(path, archive, "application/zstd", (sent, total) => {
        view.el.dataset.sent = String(sent);
        view.set(Math.round((sent / Math.max(total, 1)) * 100), `Uploading: ${bytes(sent)} of ${bytes(total)}`);
      });
      view.set(0, "Uploaded; checking and unpacking");
      const op = await follow(env.operation, (o) => view.op(o));
      if (op.status === "success") {
        view.done(h("p", { class: "ok" }, `${op.target} was imported (stopped). `, h("a", { href: `#/instances/${enc(op.target)}` }, `Open ${op.target}`)));
        form.reset();
      } else view.failed(op);
    } catch (e) {
      view.remove();
      showError(e instanceof ApiError && e.field === "body" ? new ApiError(e.status, e.code, e.message, "archive") : e, { archive: file, name, "import-name": name }, err);
      if (!(e instanceof ApiError)) err.textContent = message(e);
    } finally {
      submit.disabled = false;
    }
  });
  return card("Import a backup", form, progress);
}
