//! uPlot charts of metrics points: CPU %, memory, disk and network, sized to their box and
//! redrawn on resize. Colours come from the theme (and follow it when it changes); ticks fall
//! on round values (powers of two for sizes); each legend shows the latest value unless the
//! cursor points elsewhere; the time axis starts where the data starts (a new instance's hour
//! is not mostly empty). Gaps (null fields) stay gaps.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { MetricsAnswer, MetricsPoint } from "./contracts";
import { bytes, h, mount } from "./dom";
import { color, onTheme } from "./theme";

type Series = { label: string; get: (p: MetricsPoint) => number | null; color: string; limit?: boolean };
type Spec = { title: string; unit: (v: number) => string; incrs: number[]; floor: number; series: Series[] };

const KiB = 1024;
/** Round sizes: 1, 2, 4, 8 … 512 of B, KiB, MiB, GiB, TiB. */
const SIZE_INCRS = [1, KiB, KiB ** 2, KiB ** 3, KiB ** 4].flatMap((u) => [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map((m) => m * u));
const PCT_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 400, 800, 1600];

const rate = (v: number) => `${bytes(v)}/s`;

function specs(): Spec[] {
  return [
    { title: "CPU", unit: (v) => `${Math.round(v)} %`, incrs: PCT_INCRS, floor: 100, series: [{ label: "CPU, % of one core", get: (p) => p.cpu_percent, color: "var(--c1)" }] },
    {
      title: "Memory",
      unit: bytes,
      incrs: SIZE_INCRS,
      floor: KiB ** 2,
      series: [
        { label: "used", get: (p) => p.memory_bytes, color: "var(--c2)" },
        { label: "cache", get: (p) => p.memory_cache_bytes, color: "var(--c3)" },
        { label: "limit", get: (p) => p.memory_limit_bytes, color: "var(--bad)", limit: true },
      ],
    },
    {
      title: "Disk",
      unit: bytes,
      incrs: SIZE_INCRS,
      floor: KiB ** 2,
      series: [
        { label: "used", get: (p) => p.disk_bytes, color: "var(--c4)" },
        { label: "limit", get: (p) => p.disk_limit_bytes, color: "var(--bad)", limit: true },
      ],
    },
    {
      title: "Network",
      unit: rate,
      incrs: SIZE_INCRS,
      floor: KiB,
      series: [
        { label: "in", get: (p) => p.net_rx_bytes_per_s, color: "var(--c5)" },
        { label: "out", get: (p) => p.net_tx_bytes_per_s, color: "var(--c1)" },
      ],
    },
  ];
}

/** The index of the last point where any series has a value. */
function lastWithData(data: uPlot.AlignedData): number | null {
  for (let i = data[0].length - 1; i >= 0; i -= 1) if (data.slice(1).some((s) => s[i] !== null && s[i] !== undefined)) return i;
  return null;
}

export function drawCharts(box: HTMLElement, answer: MetricsAnswer, label: string) {
  const points = [...answer.points];
  const withData = () => points.filter((p) => p.cpu_percent !== null || p.memory_bytes !== null);
  const info = h("p", { class: "muted", "data-points": withData().length });
  const frames = specs().map((s) => h("figure", { class: "chart", "aria-label": `${s.title} of ${label}, ${answer.timeframe}` }, h("figcaption", {}, s.title)));
  mount(box, info, h("div", { class: "chart-grid" }, frames));
  const columns = (s: Spec): uPlot.AlignedData => [points.map((p) => p.time), ...s.series.map((x) => points.map((p) => x.get(p)))];
  const width = (el: HTMLElement) => Math.max(260, el.clientWidth - 8);
  let plots: uPlot[] = [];

  const describe = () => {
    const n = withData().length;
    info.dataset.points = String(n);
    const first = withData()[0];
    info.textContent = `${n} of ${points.length} points with data · one every ${answer.resolution} s${first ? ` · since ${new Date(first.time * 1000).toLocaleString()}` : ""}`;
  };
  /** The time axis starts at the first point with data (or the window's start). */
  const xRange = (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => {
    const first = withData()[0]?.time;
    const start = first !== undefined && first > min ? first - answer.resolution : min;
    frames.forEach((f) => (f.dataset.xMin = String(start)));
    return [start, Math.max(max, start + answer.resolution * 4)];
  };
  const build = () => {
    plots.forEach((p) => p.destroy());
    const text = color("var(--text)");
    const muted = color("var(--muted)");
    const grid = color("color-mix(in srgb, var(--line) 70%, transparent)");
    frames.forEach((f) => (f.dataset.grid = grid));
    plots = specs().map((s, i) => {
      // The legend shows the latest value while the cursor is away.
      const latest = (u: uPlot) => {
        if (u.cursor.idx === null || u.cursor.idx === undefined) {
          const idx = lastWithData(u.data);
          if (idx !== null) u.setLegend({ idx }, false);
        }
      };
      const opts: uPlot.Options = {
        width: width(frames[i]),
        height: 180,
        legend: { show: true, live: true },
        cursor: { drag: { x: false, y: false } },
        axes: [
          { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
          {
            stroke: muted,
            grid: { stroke: grid, width: 1 },
            ticks: { stroke: grid, width: 1 },
            size: 72,
            incrs: s.incrs,
            values: (_u, vals) => {
              const text = vals.map((v) => s.unit(v));
              frames[i].dataset.ticks = text.join("|");
              return text;
            },
          },
        ],
        scales: {
          x: { time: true, range: xRange },
          y: { range: (_u, _min, max) => [0, Math.max(max || 0, s.floor) * 1.05] },
        },
        series: [
          { value: (_u: uPlot, v: number | null) => (v === null ? "—" : new Date(v * 1000).toLocaleTimeString()) },
          ...s.series.map((x) => {
            const c = color(x.color);
            return {
              label: x.label,
              stroke: c,
              width: 2,
              fill: x.limit ? undefined : c.replace(/^rgb\((.*)\)$/, "rgb($1 / 0.12)"),
              dash: x.limit ? [6, 4] : undefined,
              value: (_u: uPlot, v: number | null) => (v === null ? "—" : s.unit(v)),
              spanGaps: false,
            };
          }),
        ],
        hooks: { ready: [latest], setData: [latest], setCursor: [latest] },
      };
      const plot = new uPlot(opts, columns(s), frames[i]);
      plot.root.style.color = text;
      return plot;
    });
  };
  describe();
  build();
  const onResize = () => plots.forEach((p, i) => p.setSize({ width: width(frames[i]), height: 180 }));
  window.addEventListener("resize", onResize);
  const offTheme = onTheme(build);
  return {
    append(p: MetricsPoint) {
      points.push(p);
      if (points.length > 720) points.shift();
      specs().forEach((s, i) => plots[i].setData(columns(s)));
      describe();
    },
    destroy() {
      window.removeEventListener("resize", onResize);
      offTheme();
      plots.forEach((p) => p.destroy());
    },
  };
}
