//! Default limits and preferences (`GET/PUT /settings`; bounds from the schema), plus this
//! browser's theme (the system's until chosen).

import { get, put } from "../../api";
import { h, mount, card, field, toast, setFieldError, formError, showError, clearErrors, GiB, MiB } from "../../dom";
import type { Settings } from "../../contracts";
import { checkNumber, constrain, inGiB, inMiB, rule, ENUMS, type NumberCheck } from "../../rules";
import { isAdmin } from "../../session";
import { choose, chosen, type Theme } from "../../theme";

export async function defaultsSection(box: HTMLElement): Promise<void> {
  const theme = h("select", { name: "theme", "data-outage-keep": "" }, h("option", { value: "system" }, "as the system (now)"), h("option", { value: "dark" }, "dark"), h("option", { value: "light" }, "light"));
  theme.value = chosen();
  theme.addEventListener("change", () => choose(theme.value as Theme));
  const prefs = card("This browser", field("Theme", theme, "Charts follow it too."));
  const s = await get<Settings>("/settings");
  const d = s.defaults;
  const ro = !isAdmin();
  // An empty limit field is "no default" (null): creates that omit it are unlimited.
  const inp = (name: string, key: string, check: NumberCheck, value: number | null, step = "1") => {
    const el = h("input", { name, type: "number", value: value ?? "", step, placeholder: "no limit", disabled: ro });
    constrain(el, key, check);
    el.addEventListener("input", () => setFieldError(el, checkNumber(key, el.value, check)));
    return el;
  };
  const scaled = (v: number | null, unit: number) => (v === null ? null : +(v / unit).toFixed(2));
  const read = (el: HTMLInputElement, unit = 1) => (el.value.trim() === "" ? null : Math.round(Number(el.value) * unit * 100) / 100);
  const image = h("input", { name: "image", value: d.image, disabled: ro });
  const cpu = inp("cpu", "Limits.cpu", {}, d.cpu, "any");
  const mem = inp("memory", "InstanceDefaults.memory", inMiB, scaled(d.memory, MiB), "64");
  const disk = inp("disk", "InstanceDefaults.disk", inGiB, scaled(d.disk, GiB), "any");
  const procs = inp("processes", "InstanceDefaults.processes", {}, d.processes);
  const auto = h("input", { type: "checkbox", name: "autostart", checked: d.autostart, disabled: ro });
  const interval = h("select", { name: "interval_seconds", disabled: ro }, (rule("MetricsSettings.interval_seconds").enum ?? [s.metrics.interval_seconds]).map((n) => h("option", { value: n, selected: n === s.metrics.interval_seconds }, `${n} s`)));
  const err = formError();
  const form = h(
    "form",
    { "aria-label": "Defaults for new instances", novalidate: true },
    h("div", { class: "limits" }, field("Image", image), field("CPU (cores)", cpu), field("Memory (MiB)", mem), field("Disk (GiB)", disk), field("Processes", procs)),
    h("label", { class: "check" }, auto, " Autostart new instances"),
    field("Metrics interval", interval, `It divides a minute. Retention: ${s.metrics.retention}${ENUMS.Retention.length > 1 ? ` (of ${ENUMS.Retention.join(", ")})` : ""}.`),
    err,
    ro ? h("p", { class: "muted" }, "Only admins change these.") : h("button", { type: "submit" }, "Save defaults"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const problems: [HTMLInputElement, string | null][] = [
      [cpu, checkNumber("Limits.cpu", cpu.value)],
      [mem, checkNumber("InstanceDefaults.memory", mem.value, inMiB)],
      [disk, checkNumber("InstanceDefaults.disk", disk.value, inGiB)],
      [procs, checkNumber("InstanceDefaults.processes", procs.value)],
    ];
    problems.forEach(([c, p]) => setFieldError(c, p));
    const first = problems.find(([, p]) => p);
    if (first) return first[0].focus();
    const body: Settings = {
      defaults: { image: image.value, cpu: read(cpu), memory: read(mem, MiB), disk: read(disk, GiB), processes: read(procs), autostart: auto.checked },
      metrics: { interval_seconds: Number(interval.value) as Settings["metrics"]["interval_seconds"], retention: s.metrics.retention },
    };
    try {
      await put("/settings", body);
      toast("Defaults saved");
    } catch (e) {
      showError(e, { "defaults.image": image, "defaults.cpu": cpu, "defaults.memory": mem, "defaults.disk": disk, "defaults.processes": procs, "metrics.interval_seconds": interval }, err);
    }
  });
  mount(box, h("div", { class: "grid" }, card("Defaults for new instances", form), prefs));
}
