//! The dashboard: instances by state (from the store), host CPU/memory/disk, recent operations
//! (with their steps, failure reason and a cancel button) and the latest alerts (rule name,
//! instance, time).

import { get, type S } from "../api";
import { h, mount, card, badge, table, usageBar, bytes, when } from "../dom";
import type { MetricsAnswer } from "../contracts";
import { subscribe } from "../link";
import { operationRows } from "../oplist";
import { isAdmin } from "../session";
import { allInstances, allOperations, loadInstances, loadOperations, watch } from "../store";

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

  const drawStates = () => {
    const list = allInstances();
    const counts = new Map<string, number>();
    list.forEach((i) => counts.set(i.state, (counts.get(i.state) ?? 0) + 1));
    mount(
      stateBox,
      h("p", { class: "big", "data-testid": "instance-count" }, String(list.length), h("span", { class: "muted" }, list.length === 1 ? " instance" : " instances")),
      h("ul", { class: "inline", "aria-label": "Instances by state" }, [...counts].map(([s, n]) => h("li", { "data-state-count": s }, badge(s), ` ${n}`))),
    );
  };
  const drawOps = () => mount(opsBox, operationRows(allOperations().slice(0, 8), { target: true }));
  const drawHost = async () => {
    const sys = await get<S["SystemInfo"]>("/system");
    if (!isAdmin()) {
      mount(hostBox, h("p", {}, `${sys.hostname}: ${sys.cpus} CPUs, ${bytes(sys.memory)} memory`));
      return;
    }
    const m = await get<MetricsAnswer>("/system/metrics?timeframe=hour&cf=avg").catch(() => null);
    const last = m?.points.filter((p) => p.cpu_percent !== null).at(-1);
    const used = sys.storage_used ?? 0;
    const total = sys.storage_free !== null && sys.storage_free !== undefined ? used + sys.storage_free : null;
    mount(
      hostBox,
      h("p", {}, `${sys.hostname} · ${sys.kernel} · ${sys.arch}`),
      usageBar("CPU", last?.cpu_percent ?? 0, sys.cpus * 100, (v) => `${Math.round(v ?? 0)} %`),
      usageBar("Memory", last?.memory_bytes ?? sys.memory - sys.memory_available, last?.memory_limit_bytes ?? sys.memory),
      usageBar(`Storage (${sys.storage_driver})`, used, total),
    );
  };
  const drawAlerts = async () => {
    const events = await get<S["AlertEvent"][]>("/alerts/events?limit=8");
    mount(
      alertsBox,
      table(
        "Latest alerts",
        ["Rule", "Instance", "State", "When"],
        events.map((e) => [e.rule_name, e.instance, badge(e.state), h("time", { datetime: new Date(e.time * 1000).toISOString() }, when(e.time))]),
        "No alerts fired.",
      ),
    );
  };
  await Promise.all([loadInstances(), loadOperations(), drawHost(), drawAlerts()]);
  drawStates();
  drawOps();
  const unwatch = watch(() => {
    drawStates();
    drawOps();
  });
  // Alerts are decided at metrics ticks: look again at most every 30 s while samples come.
  let alertsAt = Date.now();
  const unsub = subscribe(
    (e) => e.type === "metrics",
    () => {
      if (Date.now() - alertsAt < 30_000) return;
      alertsAt = Date.now();
      void drawAlerts().catch(() => {});
    },
  );
  return () => {
    unwatch();
    unsub();
  };
}
