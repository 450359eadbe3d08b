//! Power verbs shared by the instance list and page: confirmation for the destructive ones,
//! then the operation followed to its end with its failure reason shown. The buttons render
//! from the store: while an operation runs on the instance they show it (and a cancel button
//! when it can be cancelled), whichever page or client started it.

import { del, enc, message, post, type Instance, type S } from "./api";
import { confirmDialog, h, toast } from "./dom";
import { cancelButton, follow } from "./ops";
import { runningOn } from "./store";

export type Verb = "start" | "stop" | "restart" | "suspend" | "resume" | "delete";

const CONFIRM: Partial<Record<Verb, string>> = {
  stop: "The guest is shut down; its processes and open connections end.",
  restart: "The guest is rebooted; its processes and open connections end.",
  delete: "The instance, its disk, snapshots, backups and port forwards are removed for good. This cannot be undone.",
};

/** The verbs that make sense in a state. */
export function verbsFor(state: Instance["state"]): Verb[] {
  switch (state) {
    case "running":
      return ["stop", "restart", "suspend"];
    case "stopped":
    case "error":
      return ["start", "delete"];
    case "suspended":
      return ["resume", "stop"];
    default:
      return [];
  }
}

const ING: Record<string, string> = { start: "starting", stop: "stopping", restart: "restarting", suspend: "suspending", resume: "resuming", delete: "deleting", create: "creating", snapshot: "snapshotting", restore: "restoring", backup: "backing up", import: "importing" };

export async function power(name: string, verb: Verb): Promise<boolean> {
  const why = CONFIRM[verb];
  if (why && !(await confirmDialog(`${verb[0].toUpperCase()}${verb.slice(1)} ${name}?`, why, verb))) return false;
  try {
    const env =
      verb === "delete"
        ? await del<S["OperationEnvelope"]>(`/instances/${enc(name)}`, { force: true })
        : await post<S["OperationEnvelope"]>(`/instances/${enc(name)}/${verb}`, {});
    const op = await follow(env.operation);
    if (op.status === "success") toast(`${name}: ${verb} done`);
    else toast(`${name}: ${verb} ${op.status === "cancelled" ? "cancelled" : "failed"}: ${op.error ?? op.status}`, "error");
    return op.status === "success";
  } catch (e) {
    toast(`${name}: ${verb} refused: ${message(e)}`, "error");
    return false;
  }
}

/** A row of buttons for the verbs allowed in `inst`'s state, or what is running on it. */
export function powerButtons(inst: Instance, withDelete = true): HTMLElement {
  const box = h("div", { class: "btns", role: "group", "aria-label": `Power actions for ${inst.name}` });
  const op = runningOn(inst.name);
  if (op) {
    const what = op.kind.replace(/^instance_/, "");
    box.append(h("span", { class: "busy", role: "status" }, `${ING[what] ?? what}… ${op.progress} %`));
    if (op.cancellable) box.append(cancelButton(op));
    return box;
  }
  for (const v of verbsFor(inst.state).filter((v) => withDelete || v !== "delete")) {
    const b = h(
      "button",
      { type: "button", class: v === "delete" || v === "stop" ? "danger small" : "small", "aria-label": `${v} ${inst.name}`, "data-verb": v },
      v,
    );
    b.addEventListener("click", () => {
      b.disabled = true;
      void power(inst.name, v).finally(() => (b.disabled = false));
    });
    box.append(b);
  }
  return box;
}
