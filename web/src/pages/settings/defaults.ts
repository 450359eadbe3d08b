//! Default limits and preferences (`GET/PUT /settings`), plus this browser's theme.

import { ApiError, optional, put } from "../../api";
import { h, mount, card, field, toast, unavailable, GiB, MiB } from "../../dom";
import type { Settings } from "../../contracts";
import { isAdmin } from "../../session";

export async function defaultsSection(box: HTMLElement): Promise<void> {
  const theme = h("select", { name: "theme" }, h("option", { value: "dark" }, "dark"), h("option", { value: "light" }, "light"));
  theme.value = localStorage.getItem("berth-theme") ?? "dark";
  theme.addEventListener("change", () => {
    localStorage.setItem("berth-theme", theme.value);
    document.documentElement.dataset.theme = theme.value;
  });
  const prefs = card("This browser", field("Theme", theme));
  const s = await optional<Settings>("/settings").catch(() => null);
  if (!s) {
    mount(box, h("div", { class: "grid" }, card("Defaults for new instances", unavailable("Default limits", "this berthd has no /settings yet")), prefs));
    return;
  }
  const d = s.defaults;
  const ro = !isAdmin();
  // An empty limit field is "no default" (null): creates that omit it are unlimited.
  const inp = (name: string, value: string | number | null, step = "1") =>
    h("input", { name, type: "number", value: value ?? "", step, placeholder: "no limit", disabled: ro });
  const scaled = (v: number | null, unit: number) => (v === null ? null : Math.round(v / unit));
  const read = (el: HTMLInputElement, unit = 1) => (el.value.trim() === "" ? null : Number(el.value) * unit);
  const image = h("input", { name: "image", value: d.image, disabled: ro });
  const cpu = inp("cpu", d.cpu, "any");
  const mem = inp("memory", scaled(d.memory, MiB), "64");
  const disk = inp("disk", scaled(d.disk, GiB));
  const procs = inp("processes", d.processes);
  const auto = h("input", { type: "checkbox", name: "autostart", checked: d.autostart, disabled: ro });
  const interval = inp("interval_seconds", s.metrics.interval_seconds);
  const err = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {},
    h("div", { class: "limits" }, field("Image", image), field("CPU (cores)", cpu), field("Memory (MiB)", mem), field("Disk (GiB)", disk), field("Processes", procs)),
    h("label", { class: "check" }, auto, " Autostart new instances"),
    field("Metrics interval (seconds)", interval, `Retention: ${s.metrics.retention}`),
    err,
    ro ? h("p", { class: "muted" }, "Only admins change these.") : h("button", { type: "submit" }, "Save defaults"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    const body: Settings = {
      defaults: { image: image.value, cpu: read(cpu), memory: read(mem, MiB), disk: read(disk, GiB), processes: read(procs), autostart: auto.checked },
      metrics: { interval_seconds: Number(interval.value) as Settings["metrics"]["interval_seconds"], retention: s.metrics.retention },
    };
    try {
      await put("/settings", body);
      toast("Defaults saved");
    } catch (e) {
      err.textContent = e instanceof ApiError ? `${e.field ? `${e.field}: ` : ""}${e.message}` : String(e);
    }
  });
  mount(box, h("div", { class: "grid" }, card("Defaults for new instances", form), prefs));
}
