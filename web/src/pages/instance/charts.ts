//! The charts tab: CPU, memory, disk and network for hour/day/week/month/year (avg or max)
//! from `GET /instances/{name}/metrics`, with live points from the event stream appended.

import { enc, optional, type Instance } from "../../api";
import { h, mount, card, unavailable } from "../../dom";
import { TIMEFRAMES, type MetricsAnswer, type Timeframe } from "../../contracts";
import { subscribe } from "../../events";
import { drawCharts } from "../../charts";

export async function chartsTab(box: HTMLElement, inst: Instance): Promise<() => void> {
  let timeframe: Timeframe = "hour";
  let cf: "avg" | "max" = "avg";
  const chartBox = h("div", { class: "charts" });
  const tfGroup = h(
    "div",
    { class: "seg", role: "radiogroup", "aria-label": "Timeframe" },
    TIMEFRAMES.map((t) =>
      h("button", { type: "button", role: "radio", "aria-checked": t === timeframe ? "true" : "false", "data-tf": t, onclick: () => void select(t) }, t),
    ),
  );
  const cfSel = h("select", { "aria-label": "Consolidation" }, h("option", { value: "avg" }, "average"), h("option", { value: "max" }, "maximum"));
  cfSel.addEventListener("change", () => {
    cf = cfSel.value as "avg" | "max";
    void load();
  });
  mount(box, card("Usage", h("div", { class: "row wrap" }, tfGroup, cfSel), chartBox));
  let data: MetricsAnswer | null = null;
  let charts: { append: (p: MetricsAnswer["points"][number]) => void; destroy: () => void } | null = null;
  const load = async () => {
    charts?.destroy();
    charts = null;
    try {
      data = await optional<MetricsAnswer>(`/instances/${enc(inst.name)}/metrics?timeframe=${timeframe}&cf=${cf}`);
    } catch (e) {
      mount(chartBox, h("p", { class: "error" }, `Could not read metrics: ${(e as Error).message}`));
      return;
    }
    if (!data) {
      mount(chartBox, unavailable("Charts", "this berthd keeps no metrics history yet"));
      return;
    }
    charts = drawCharts(chartBox, data, inst);
  };
  const select = async (t: Timeframe) => {
    timeframe = t;
    tfGroup.querySelectorAll("button").forEach((b) => b.setAttribute("aria-checked", b.dataset.tf === t ? "true" : "false"));
    await load();
  };
  await load();
  const unsub = subscribe(
    (e) => e.type === "metrics" && e.instance === inst.name,
    (e) => {
      if (timeframe === "hour") charts?.append(e.data as unknown as MetricsAnswer["points"][number]);
    },
  );
  return () => {
    unsub();
    charts?.destroy();
  };
}
