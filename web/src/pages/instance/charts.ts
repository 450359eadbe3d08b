//! The charts tab: CPU, memory, disk and network for hour/day/week/month/year (avg or max)
//! from `GET /instances/{name}/metrics`, with live points from the event stream appended.

import { enc, get, message } from "../../api";
import { h, mount, card } from "../../dom";
import { TIMEFRAMES, type MetricsAnswer, type Timeframe } from "../../contracts";
import { subscribe } from "../../link";
import { drawCharts } from "../../charts";

export async function chartsTab(box: HTMLElement, name: string): Promise<() => void> {
  let timeframe: Timeframe = "hour";
  let cf: "avg" | "max" = "avg";
  const chartBox = h("div", { class: "charts" });
  const tfGroup = h(
    "div",
    { class: "seg", role: "radiogroup", "aria-label": "Timeframe", "data-outage-keep": "" },
    TIMEFRAMES.map((t) =>
      h("button", { type: "button", role: "radio", "aria-checked": t === timeframe ? "true" : "false", "data-tf": t, onclick: () => void select(t) }, t),
    ),
  );
  const cfSel = h("select", { "aria-label": "Consolidation", "data-outage-keep": "" }, h("option", { value: "avg" }, "average"), h("option", { value: "max" }, "maximum"));
  cfSel.addEventListener("change", () => {
    cf = cfSel.value as "avg" | "max";
    void load();
  });
  mount(box, card("Usage", h("div", { class: "row wrap" }, tfGroup, cfSel), chartBox));
  let charts: ReturnType<typeof drawCharts> | null = null;
  const load = async () => {
    charts?.destroy();
    charts = null;
    try {
      const data = await get<MetricsAnswer>(`/instances/${enc(name)}/metrics?timeframe=${timeframe}&cf=${cf}`);
      charts = drawCharts(chartBox, data, name);
    } catch (e) {
      mount(chartBox, h("p", { class: "error" }, `Could not read metrics: ${message(e)}`));
    }
  };
  const select = async (t: Timeframe) => {
    timeframe = t;
    tfGroup.querySelectorAll("button").forEach((b) => b.setAttribute("aria-checked", b.dataset.tf === t ? "true" : "false"));
    await load();
  };
  await load();
  const unsub = subscribe(
    (e) => e.type === "metrics" && e.instance === name,
    (e) => {
      if (timeframe === "hour") charts?.append(e.data as unknown as MetricsAnswer["points"][number]);
    },
  );
  return () => {
    unsub();
    charts?.destroy();
  };
}
