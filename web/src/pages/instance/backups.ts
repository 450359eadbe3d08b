//! The backups tab: list, create, download (the export link), restore as a new instance (the
//! name checked by the schema's pattern; the import's progress shown), delete, and the backup
//! schedule.

import { del, enc, get, message, post, type S } from "../../api";
import { h, mount, card, table, bytes, when, toast, confirmDialog, field, formError, setFieldError, showError } from "../../dom";
import { follow } from "../../ops";
import { progressView } from "../../progress";
import { checkText, NAME_FORM } from "../../rules";
import { scheduleCard } from "../../schedule";
import { subscribe } from "../../link";


/** Asks for the new instance's name; `null` when cancelled. */
function restoreDialog(name: string, b: S["Backup"]): Promise<string | null> {
  return new Promise((resolve) => {
    const input = h("input", { name: "restore-name", value: `${name}-restored`.slice(0, 63), autocomplete: "off", spellcheck: "false" });
    const dlg = h("dialog", { class: "dialog", "aria-labelledby": "restore-title" });
    const done = (v: string | null) => {
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    const form = h(
      "form",
      { method: "dialog", novalidate: true },
      h("h2", { id: "restore-title" }, `Restore the backup of ${when(b.created_at)}`),
      h("p", {}, `It comes back as a new instance (left stopped) beside ${name}, which stays as it is.`),
      field("New instance name", input),
      h("div", { class: "actions" }, h("button", { type: "button", onclick: () => done(null) }, "Cancel"), h("button", { type: "submit", class: "primary" }, "Restore")),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const problem = checkText("RestoreBackupRequest.name", input.value.trim(), NAME_FORM, true);
      setFieldError(input, problem);
      if (problem) return input.focus();
      done(input.value.trim());
    });
    dlg.addEventListener("cancel", () => done(null));
    mount(dlg, form);
    document.body.append(dlg);
    dlg.showModal();
    input.select();
  });
}

export async function backupsTab(box: HTMLElement, name: string): Promise<() => void> {
  const base = `/instances/${enc(name)}/backups`;
  const listBox = h("div");
  const progress = h("div", { class: "progress-box" });
  const err = formError();
  const withSnaps = h("input", { type: "checkbox", name: "with-snapshots" });
  const create = h("button", { type: "button" }, "Create backup");
  create.addEventListener("click", async () => {
    err.textContent = "";
    create.disabled = true;
    const view = progressView(`Backing up ${name}`);
    mount(progress, view.el);
    try {
      const op = await follow((await post<S["OperationEnvelope"]>(base, { snapshots: withSnaps.checked })).operation, (o) => view.op(o));
      if (op.status === "success") {
        toast("Backup created");
        mount(progress);
      } else view.failed(op);
    } catch (e) {
      mount(progress);
      err.textContent = message(e);
    }
    create.disabled = false;
    await draw().catch(() => {});
  });
  const restore = async (b: S["Backup"]) => {
    const target = await restoreDialog(name, b);
    if (!target) return;
    err.textContent = "";
    const view = progressView(`Restoring into ${target}`);
    mount(progress, view.el);
    try {
      const env = await post<S["OperationEnvelope"]>(`${base}/${enc(b.id)}/restore`, { name: target });
      const op = await follow(env.operation, (o) => view.op(o));
      if (op.status === "success") view.done(h("p", { class: "ok" }, `Restored as ${target} (stopped). `, h("a", { href: `#/instances/${enc(target)}` }, `Open ${target}`)));
      else view.failed(op);
    } catch (e) {
      mount(progress);
      showError(e, {}, err);
    }
  };
  const draw = async () => {
    const list = await get<S["Backup"][]>(base);
    mount(
      listBox,
      table(
        "Backups",
        ["Created", "Size", "Actions"],
        list.map((b) => [
          when(b.created_at),
          bytes(b.size),
          h(
            "div",
            { class: "btns" },
            h("a", { class: "button small", href: `/api/v1${base}/${enc(b.id)}/export`, download: `${name}-${b.id}.tar.zst`, "aria-label": `download the backup of ${when(b.created_at)}` }, "download"),
            h("button", { type: "button", class: "small", "aria-label": `restore the backup of ${when(b.created_at)}`, onclick: () => void restore(b) }, "restore"),
            h(
              "button",
              {
                type: "button",
                class: "small danger",
                "aria-label": `delete the backup of ${when(b.created_at)}`,
                onclick: async () => {
                  if (!(await confirmDialog("Delete this backup?", `The backup of ${when(b.created_at)} is removed for good.`, "delete"))) return;
                  try {
                    await del(`${base}/${enc(b.id)}`);
                  } catch (e) {
                    err.textContent = message(e);
                  }
                  await draw().catch(() => {});
                },
              },
              "delete",
            ),
          ),
        ]),
        "No backups yet.",
      ),
    );
  };
  await draw();
  const schedule = scheduleCard(name, "backups");
  mount(box, card("Backups", h("div", { class: "row" }, h("label", { class: "check" }, withSnaps, " Include snapshots"), create), err, progress, listBox), schedule.el);
  const unsub = subscribe(
    (e) => e.instance === name && e.type === "lifecycle" && e.data.action === "backup-created",
    () => void draw().catch(() => {}),
  );
  return () => {
    unsub();
    schedule.stop();
  };
}
