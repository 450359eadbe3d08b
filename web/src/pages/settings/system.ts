//! System info and storage usage bars (`GET /system`).

import { get, type S } from "../../api";
import { h, mount, card, table, usageBar, bytes, badge } from "../../dom";

export async function systemSection(box: HTMLElement): Promise<void> {
  const s = await get<S["SystemInfo"]>("/system");
  const used = s.storage_used ?? 0;
  const total = s.storage_free !== null && s.storage_free !== undefined ? used + s.storage_free : null;
  mount(
    box,
    h(
      "div",
      { class: "grid" },
      card(
        "Host",
        h(
          "dl",
          { class: "facts" },
          ...[
            ["Hostname", s.hostname],
            ["Berth", s.version],
            ["Kernel", s.kernel],
            ["Architecture", s.arch],
            ["CPUs", String(s.cpus)],
            ["Memory", bytes(s.memory)],
            ["cgroups", s.cgroup],
            ["Instances", String(s.instances)],
          ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
        ),
      ),
      card("Storage", h("p", { class: "muted" }, `${s.storage_driver} at `, h("span", { class: "mono" }, s.storage_path)), usageBar("Storage pool", used, total)),
      card("Backends", table("Backends", ["Backend", "Usable", "Why not"], s.backends.map((b) => [b.name + (b.name === s.default_backend ? " (default)" : ""), badge(b.usable ? "yes" : "no"), b.reason ?? ""]))),
    ),
  );
}
