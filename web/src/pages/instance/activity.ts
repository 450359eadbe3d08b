//! The activity tab: this instance's operations (newest first) with their steps and errors.

import { get, type Instance, type Operation } from "../../api";
import { mount, badge, table, when, debounce } from "../../dom";
import { subscribe } from "../../events";

export async function activityTab(box: HTMLElement, inst: Instance): Promise<() => void> {
  const draw = async () => {
    const ops = (await get<Operation[]>("/operations")).filter((o) => o.target === inst.name);
    mount(
      box,
      table(
        `Activity of ${inst.name}`,
        ["When", "Operation", "Status", "Message", "Owner"],
        ops.map((o) => [when(o.created_at), o.kind.replace(/^instance_/, "").replace(/_/g, " "), badge(o.status), o.error ?? o.message, o.owner]),
        "No activity yet.",
      ),
    );
  };
  await draw();
  return subscribe((e) => e.instance === inst.name && e.type === "operation", debounce(() => void draw(), 300));
}
