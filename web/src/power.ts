//! Power verbs shared by the instance list and page: confirmation for the destructive ones,
//! then the operation followed to its end with its failure reason shown.

import { ApiError, del, enc, post, type Instance, type S } from "./api";
import { confirmDialog, h, toast } from "./dom";
import { follow } from "./ops";

export type Verb = "start" | "stop" | "restart" | "suspend" | "resume" | "delete";

const CONFIRM: Partial<Record<Verb, string>> = {
  stop: "The guest is shut down; its processes and open connections end.",
  restart: "The guest is rebooted; its processes and open connections end.",
  delete: "The instance, its disk, snapshots and port forwards are removed for good. This cannot be undone.",
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

export async function power(name: string, verb: Verb, onEnd: () => void = () => {}): Promise<boolean> {
  const why = CONFIRM[verb];
  if (why && !(await confirmDialog(`${verb[0].toUpperCase()}${verb.slice(1)} ${name}?`, why, verb))) return false;
  try {
    const env =
      verb === "delete"
        ? await del<S["OperationEnvelope"]>(`/instances/${enc(name)}`, { force: true })
        : await post<S["OperationEnvelope"]>(`/instances/${enc(name)}/${verb}`, {});
    const op = await follow(env.operation);
    if (op.status === "success") toast(`${name}: ${verb} done`);
    else toast(`${name}: ${verb} failed: ${op.error ?? op.status}`, "error");
    onEnd();
    return op.status === "success";
  } catch (e) {
    toast(`${name}: ${verb} refused: ${e instanceof ApiError ? e.message : String(e)}`, "error");
    onEnd();
    return false;
  }
}

/** A row of buttons for the verbs allowed in `inst`'s state. */
export function powerButtons(inst: Instance, onEnd: () => void, withDelete = true): HTMLElement {
  const verbs = verbsFor(inst.state).filter((v) => withDelete || v !== "delete");
  const box = h("div", { class: "btns", role: "group", "aria-label": `Power actions for ${inst.name}` });
  for (const v of verbs) {
    const b = h(
      "button",
      {
        type: "button",
        class: v === "delete" || v === "stop" ? "danger small" : "small",
        "aria-label": `${v} ${inst.name}`,
        "data-verb": v,
      },
      v,
    );
    b.addEventListener("click", async () => {
      box.querySelectorAll("button").forEach((x) => (x.disabled = true));
      b.textContent = `${v}…`;
      await power(inst.name, v, onEnd);
      box.querySelectorAll("button").forEach((x) => (x.disabled = false));
      b.textContent = v;
    });
    box.append(b);
  }
  return box;
}
