//! The instance list: state badges, addresses, limits, owner (for admins) and quick power
//! actions, redrawn when the event stream reports a change (no polling loop).

import { get, type Instance } from "../api";
import { h, mount, stateBadge, table, bytes, debounce } from "../dom";
import { subscribe } from "../events";
import { powerButtons } from "../power";
import { isAdmin } from "../session";

export function limitsText(i: Instance): string {
  const l = i.limits;
  return [l.cpu ? `${l.cpu} CPU` : null, l.memory ? bytes(l.memory) : null, l.disk ? `${bytes(l.disk)} disk` : null]
    .filter(Boolean)
    .join(" · ");
}

export async function instancesPage(main: HTMLElement): Promise<() => void> {
  const box = h("div");
  mount(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Instances"), h("a", { href: "#/create", class: "button primary" }, "Create instance")),
    box,
  );
  const admin = isAdmin();
  const draw = async () => {
    const list = await get<Instance[]>("/instances");
    const headers = ["Name", "State", "Image", "Addresses", "Limits", ...(admin ? ["Owner"] : []), "Actions"];
    mount(
      box,
      table(
        "Instances",
        headers,
        list.map((i) => [
          h("a", { href: `#/instances/${encodeURIComponent(i.name)}` }, i.name),
          stateBadge(i),
          i.image,
          h("span", { class: "mono" }, [i.network.ipv4, i.network.ipv6].filter(Boolean).join(" ")),
          limitsText(i),
          ...(admin ? [i.owner] : []),
          powerButtons(i, () => void draw(), false),
        ]),
        "No instances yet — create one.",
      ),
    );
  };
  await draw();
  return subscribe(
    (e) => e.type === "lifecycle" || (e.type === "operation" && ["success", "failure"].includes(String(e.data.status))),
    debounce(() => void draw(), 150),
  );
}
