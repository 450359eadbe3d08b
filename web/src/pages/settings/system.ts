//! System info and storage usage bars (`GET /system`); for admins the host view (`host`):
//! uptime, CPU, kernel, load average, memory and the pool's file system.

import { get, type S } from "../../api";
import { h, mount, card, table, usageBar, bytes, badge, duration } from "../../dom";

const facts = (rows: [string, string][]) => h("dl", { class: "facts" }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));

/** The machine itself, shown to admins only (users get no `host`). */
function hostCard(host: S["HostView"]): HTMLElement {
  const load = host.load_average;
  const pools = host.pools.map((p) => usageBar(`Pool ${p.name} (file system)`, p.used ?? 0, p.size ?? null));
  return card(
    "Host (admins)",
    h(
      "div",
      { "data-testid": "host-view" },
      facts([
        ["Uptime", duration(host.uptime_seconds)],
        ["CPU", `${host.cpus} × ${host.cpu_model}`],
        ["Kernel", host.kernel],
        ["Load average", `${load.one.toFixed(2)} · ${load.five.toFixed(2)} · ${load.fifteen.toFixed(2)} (1, 5, 15 min)`],
      ]),
      usageBar("Memory in use", host.memory_total - host.memory_available, host.memory_total),
      ...pools,
    ),
  );
}

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
      ...(s.host ? [hostCard(s.host)] : []),
      card("Storage", h("p", { class: "muted" }, `${s.storage_driver} at `, h("span", { class: "mono" }, s.storage_path)), usageBar("Storage pool", used, total)),
      card("Backends", table("Backends", ["Backend", "Usable", "Why not"], s.backends.map((b) => [b.name + (b.name === s.default_backend ? " (default)" : ""), badge(b.usable ? "yes" : "no"), b.reason ?? ""]))),
    ),
  );
}
