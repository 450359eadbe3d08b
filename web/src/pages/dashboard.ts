//! The dashboard: instances by state, host CPU/memory/disk, recent operations and alerts.

import { get, optional, type Instance, type Operation, type S } from "../api";
import { h, mount, card, badge, table, usageBar, bytes, ago, unavailable, debounce } from "../dom";
import type { MetricsAnswer } from "../contracts";
import { subscribe } from "../events";
import { isAdmin } from "../session";

export async function dashboardPage(main: HTMLElement): Promise<() => void> {
  const stateBox = h("div", { class: "states" });
  const hostBox = h("div");
  const opsBox = h("div");
  const alertsBox = h("div");
  mount(
    main,
    h("h1", {}, "Dashboard"),
    h(
      "div",
      { class: "grid" },
      card("Instances", stateBox, h("p", {}, h("a", { href: "#/create", class: "button primary" }, "Create instance"))),
      card("Host", hostBox),
      card("Alerts", alertsBox),
      h("div", { class: "wide" }, card("Recent operations", opsBox)),
    ),
  );

  const drawStates = async () => {
    const list = await get<Instance[]>("/instances");
    const counts = new Map<string, number>();
    list.forEach((i) => counts.set(i.state, (counts.get(i.state) ?? 0) + 1));
    mount(
      stateBox,
      h("p", { class: "big" }, String(list.length), h("span", { class: "muted" }, " instances")),
      h("ul", { class: "inline" }, [...counts].map(([s, n]) => h("li", {}, badge(s), ` ${n}`))),
    );
  };
  const drawOps = async () => {
    const ops = (await get<Operation[]>("/operations")).slice(0, 8);
    mount(
      opsBox,
      table(
        "Recent operations",
        ["Operation", "Target", "Status", "Message", "When"],
        ops.map((o) => [o.kind.replace(/^instance_/, "").replace(/_/g, " "), o.target, badge(o.status), o.error ?? o.message, ago(o.created_at)]),
        "No operations yet.",
      ),
    );
  };
  const drawHost = async () => {
    if (!isAdmin()) {
      const sys = await get<S["SystemInfo"]>("/system");
      mount(hostBox, h("p", {}, `${sys.hostname}: ${sys.cpus} CPUs, ${bytes(sys.memory)} memory`));
      return;
    }
    const [sys, m] = await Promise.all([
      get<S["SystemInfo"]>("/system"),
      optional<MetricsAnswer>("/system/metrics?timeframe=hour&cf=avg").catch(() => null),
    ]);
    const last = m?.points.filter((p) => p.cpu_percent !== null).at(-1);
    const used = sys.storage_used ?? 0;
    const total = sys.storage_free !== null && sys.storage_free !== undefined ? used + sys.storage_free : null;
    mount(
      hostBox,
      h("p", {}, `${sys.hostname} · ${sys.kernel} · ${sys.arch}`),
      last
        ? [
            usageBar("CPU", last.cpu_percent ?? 0, sys.cpus * 100, (v) => `${(v ?? 0).toFixed(0)} %`),
            usageBar("Memory", last.memory_bytes ?? 0, last.memory_limit_bytes ?? sys.memory),
          ]
        : [h("p", {}, `${sys.cpus} CPUs, ${bytes(sys.memory)} memory`), unavailable("Live host CPU and memory", "no metrics on this daemon yet")],
      usageBar(`Storage (${sys.storage_driver})`, used, total),
    );
  };
  const drawAlerts = async () => {
    const events = await optional<Record<string, unknown>[]>("/alerts/events").catch(() => null);
    if (events === null) {
      mount(alertsBox, unavailable("Alerts"));
      return;
    }
    mount(
      alertsBox,
      table(
        "Alerts",
        ["Alert", "Instance", "When"],
        events.slice(0, 8).map((e) => [String(e.rule ?? e.name ?? e.metric ?? "alert"), String(e.instance ?? "—"), String(e.time ?? e.at ?? "")]),
        "No alerts fired.",
      ),
    );
  };
  await Promise.all([drawStates(), drawOps(), drawHost(), drawAlerts()]);
  const redraw = debounce(() => {
    void drawStates();
    void drawOps();
  }, 300);
  return subscribe((e) => e.type === "lifecycle" || e.type === "operation", redraw);
}
