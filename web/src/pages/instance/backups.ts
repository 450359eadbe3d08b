//! The backups tab: list, create, download (the export link) and delete.

import { ApiError, del, enc, get, post, type Instance, type S } from "../../api";
import { h, mount, card, table, bytes, when, toast, confirmDialog } from "../../dom";
import { follow } from "../../ops";

export async function backupsTab(box: HTMLElement, inst: Instance): Promise<void> {
  const base = `/instances/${enc(inst.name)}/backups`;
  const listBox = h("div");
  const err = h("p", { class: "error", role: "alert" });
  const withSnaps = h("input", { type: "checkbox", name: "with-snapshots" });
  const create = h("button", { type: "button" }, "Create backup");
  create.addEventListener("click", async () => {
    err.textContent = "";
    create.disabled = true;
    try {
      const op = await follow((await post<S["OperationEnvelope"]>(base, { snapshots: withSnaps.checked })).operation);
      if (op.status === "success") toast("Backup created");
      else err.textContent = `Backup failed: ${op.error ?? op.status}`;
    } catch (e) {
      err.textContent = e instanceof ApiError ? e.message : String(e);
    }
    create.disabled = false;
    await draw();
  });
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
            h("a", { class: "button small", href: `/api/v1${base}/${enc(b.id)}/export`, download: `${inst.name}-${b.id}.tar.zst` }, "download"),
            h(
              "button",
              {
                type: "button",
                class: "small danger",
                onclick: async () => {
                  if (!(await confirmDialog("Delete this backup?", `The backup of ${when(b.created_at)} is removed for good.`, "delete"))) return;
                  try {
                    await del(`${base}/${enc(b.id)}`);
                  } catch (e) {
                    err.textContent = e instanceof ApiError ? e.message : String(e);
                  }
                  await draw();
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
  mount(box, card("Backups", h("div", { class: "row" }, h("label", { class: "check" }, withSnaps, " Include snapshots"), create), err, listBox));
}
