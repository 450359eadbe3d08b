//! The snapshots tab: list, take (the name checked by the schema's pattern), restore
//! (confirmed) and delete (confirmed), and the snapshot schedule.

import { del, enc, get, message, post, type S } from "../../api";
import { h, mount, card, field, formError, table, bytes, when, toast, confirmDialog, setFieldError, showError } from "../../dom";
import { follow } from "../../ops";
import { checkText, NAME_FORM } from "../../rules";
import { scheduleCard } from "../../schedule";
import { subscribe } from "../../link";


export async function snapshotsTab(box: HTMLElement, name: string): Promise<() => void> {
  const base = `/instances/${enc(name)}/snapshots`;
  const listBox = h("div");
  const nameIn = h("input", { name: "snapshot", placeholder: "snap0", autocomplete: "off", spellcheck: "false" });
  const err = formError();
  const take = h("button", { type: "submit" }, "Take snapshot");
  const form = h("form", { class: "row", "aria-label": "Take a snapshot", novalidate: true }, field("Snapshot name (optional)", nameIn, "Like an instance name; snap0, snap1, … when empty."), take);
  const check = () => checkText("CreateSnapshotRequest.name", nameIn.value, NAME_FORM);
  nameIn.addEventListener("input", () => setFieldError(nameIn, check()));
  const run = async (p: () => Promise<S["OperationEnvelope"]>, what: string) => {
    err.textContent = "";
    try {
      const op = await follow((await p()).operation);
      if (op.status === "success") toast(`${what}: done`);
      else err.textContent = `${what} failed: ${op.error ?? op.status}`;
    } catch (e) {
      err.textContent = `${what}: ${message(e)}`;
    }
    await draw().catch(() => {});
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const problem = check();
    setFieldError(nameIn, problem);
    if (problem) return nameIn.focus();
    const body = nameIn.value ? { name: nameIn.value } : {};
    take.disabled = true;
    try {
      const env = await post<S["OperationEnvelope"]>(base, body);
      nameIn.value = "";
      await run(async () => env, "Snapshot");
    } catch (e) {
      showError(e, { name: nameIn }, err);
    } finally {
      take.disabled = false;
    }
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
                "aria-label": `restore ${s.name}`,
                onclick: async () => {
                  if (await confirmDialog(`Restore ${s.name}?`, `${name}'s disk is replaced by the snapshot; changes since ${when(s.created_at)} are lost.`, "restore"))
                    void run(() => post(`${base}/${enc(s.name)}/restore`), `Restore ${s.name}`);
                },
              },
              "restore",
            ),
            h(
              "button",
              {
                type: "button",
                class: "small danger",
                "aria-label": `delete ${s.name}`,
                onclick: async () => {
                  if (!(await confirmDialog(`Delete ${s.name}?`, "The snapshot is removed for good.", "delete"))) return;
                  try {
                    await del(`${base}/${enc(s.name)}`);
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
        "No snapshots yet.",
      ),
    );
  };
  await draw();
  const schedule = scheduleCard(name, "snapshots");
  mount(box, card("Snapshots", form, err, listBox), schedule.el);
  // Snapshots taken or removed elsewhere (the CLI, the schedule) show up here.
  const unsub = subscribe(
    (e) => e.instance === name && e.type === "lifecycle" && String(e.data.action).startsWith("snapshot-"),
    () => void draw().catch(() => {}),
  );
  return () => {
    unsub();
    schedule.stop();
  };
}
