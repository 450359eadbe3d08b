//! uPlot charts of metrics points: CPU %, memory, disk and network, sized to their box and
//! redrawn on resize. Gaps (null fields) stay gaps.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Instance } from "./api";
import type { MetricsAnswer, MetricsPoint } from "./contracts";
import { bytes, h, mount } from "./dom";

type Series = { label: string; get: (p: MetricsPoint) => number | null; color: string };
type Spec = { title: string; unit: (v: number) => string; series: Series[] };

const rate = (v: number) => `${bytes(v)}/s`;

function specs(): Spec[] {
  return [
    { title: "CPU", unit: (v) => `${v.toFixed(0)} %`, series: [{ label: "CPU % of one core", get: (p) => p.cpu_percent, color: "#4fc3f7" }] },
    {
      title: "Memory",
      unit: bytes,
      series: [
        { label: "used", get: (p) => p.memory_bytes, color: "#81c784" },
        { label: "cache", get: (p) => p.memory_cache_bytes, color: "#aed581" },
        { label: "limit", get: (p) => p.memory_limit_bytes, color: "#e57373" },
      ],
    },
    {
      title: "Disk",
      unit: bytes,
      series: [
        { label: "used", get: (p) => p.disk_bytes, color: "#ffb74d" },
        { label: "limit", get: (p) => p.disk_limit_bytes, color: "#e57373" },
      ],
    },
    {
      title: "Network",
      unit: rate,
      series: [
        { label: "in", get: (p) => p.net_rx_bytes_per_s, color: "#ba68c8" },
        { label: "out", get: (p) => p.net_tx_bytes_per_s, color: "#4db6ac" },
      ],
    },
  ];
}

export function drawCharts(box: HTMLElement, answer: MetricsAnswer, inst: Instance) {
  const points = [...answer.points];
  const withData = points.filter((p) => p.cpu_percent !== null || p.memory_bytes !== null).length;
  const plots: uPlot[] = [];
  const frames = specs().map((s) => h("figure", { class: "chart", "aria-label": `${s.title} of ${inst.name}, ${answer.timeframe}` }, h("figcaption", {}, s.title)));
  mount(
    box,
    h("p", { class: "muted", "data-points": withData }, `${withData} of ${points.length} points with data · one every ${answer.resolution} s`),
    h("div", { class: "chart-grid" }, frames),
  );
  const columns = (s: Spec): uPlot.AlignedData => [points.map((p) => p.time), ...s.series.map((x) => points.map((p) => x.get(p)))];
  const width = (el: HTMLElement) => Math.max(260, el.clientWidth - 8);
  specs().forEach((s, i) => {
    const opts: uPlot.Options = {
      width: width(frames[i]),
      height: 180,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { stroke: "#9aa4b2", grid: { stroke: "#2a313c" }, ticks: { stroke: "#2a313c" } },
        { stroke: "#9aa4b2", grid: { stroke: "#2a313c" }, ticks: { stroke: "#2a313c" }, size: 70, values: (_u, vals) => vals.map((v) => s.unit(v)) },
      ],
      scales: { y: { range: (_u, _min, max) => [0, Math.max(max || 0, s.title === "CPU" ? 100 : 1)] } },
      series: [{}, ...s.series.map((x) => ({ label: x.label, stroke: x.color, width: 2, fill: x.label === "limit" ? undefined : `${x.color}22`, value: (_u: uPlot, v: number | null) => (v === null ? "—" : s.unit(v)), dash: x.label === "limit" ? [6, 4] : undefined, spanGaps: false }))],
    };
    plots.push(new uPlot(opts, columns(s), frames[i]));
  });
  const onResize = () => plots.forEach((p, i) => p.setSize({ width: width(frames[i]), height: 180 }));
  window.addEventListener("resize", onResize);
  return {
    append(p: MetricsPoint) {
      points.push(p);
      if (points.length > 720) points.shift();
      specs().forEach((s, i) => plots[i].setData(columns(s)));
    },
    destroy() {
      window.removeEventListener("resize", onResize);
      plots.forEach((p) => p.destroy());
    },
  };
}
