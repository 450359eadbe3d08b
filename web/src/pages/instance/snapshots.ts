//! The snapshots tab: list, take, restore (confirmed) and delete (confirmed).

import { ApiError, del, enc, get, post, type Instance, type S } from "../../api";
import { h, mount, card, field, table, bytes, when, toast, confirmDialog } from "../../dom";
import { follow } from "../../ops";

export async function snapshotsTab(box: HTMLElement, inst: Instance, refresh: () => Promise<void>): Promise<void> {
  const base = `/instances/${enc(inst.name)}/snapshots`;
  const listBox = h("div");
  const nameIn = h("input", { name: "snapshot", placeholder: "snap0", pattern: "[a-zA-Z0-9._-]*" });
  const err = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "row" }, field("Snapshot name (optional)", nameIn), h("button", { type: "submit" }, "Take snapshot"));
  const run = async (p: Promise<S["OperationEnvelope"]>, what: string) => {
    err.textContent = "";
    try {
      const op = await follow((await p).operation);
      if (op.status === "success") toast(`${what}: done`);
      else err.textContent = `${what} failed: ${op.error ?? op.status}`;
    } catch (e) {
      err.textContent = e instanceof ApiError ? e.message : String(e);
    }
    await draw();
    await refresh();
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void run(post(base, nameIn.value ? { name: nameIn.value } : {}), "Snapshot");
    nameIn.value = "";
  });
  const draw = async () => {
    const snaps = await get<S["Snapshot"][]>(base);
    mount(
      listBox,
      table(
        "Snapshots",
        ["Name", "Taken", "Size", "Scheduled", "Actions"],
        snaps.map((s) => [
          s.name,
          when(s.created_at),
          bytes(s.size),
          s.scheduled ? `yes, expires ${when(s.expires_at)}` : "no",
          h(
            "div",
            { class: "btns" },
            h(
              "button",
              {
                type: "button",
                class: "small",
                onclick: async () => {
                  if (await confirmDialog(`Restore ${s.name}?`, `${inst.name}'s disk is replaced by the snapshot; changes since ${when(s.created_at)} are lost.`, "restore"))
                    void run(post(`${base}/${enc(s.name)}/restore`), `Restore ${s.name}`);
                },
              },
              "restore",
            ),
            h(
              "button",
              {
                type: "button",
                class: "small danger",
                onclick: async () => {
                  if (!(await confirmDialog(`Delete ${s.name}?`, "The snapshot is removed for good.", "delete"))) return;
                  try {
                    await del(`${base}/${enc(s.name)}`);
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
        "No snapshots yet.",
      ),
    );
  };
  await draw();
  mount(box, card("Snapshots", form, err, listBox));
}
