//! The schedule form of an instance's snapshots or backups (`PATCH /instances/{name}` with
//! `snapshots` or `backups`): a preset or a cron line, and for snapshots how long they are kept
//! and how many. What is set shows from the store (the instance's `snapshots`/`backups`).

import { enc, patch, type S } from "./api";
import { card, clearErrors, field, formError, h, setFieldError, showError, toast } from "./dom";
import { checkNumber, checkText } from "./rules";
import { instance, loadInstance, watch } from "./store";

const PRESETS: [string, string][] = [
  ["", "off"],
  ["@hourly", "every hour"],
  ["@daily", "every day (00:00 UTC)"],
  ["@weekly", "every week (Sunday)"],
  ["@monthly", "every month (the 1st)"],
  ["custom", "custom (cron)"],
];

export function scheduleCard(name: string, what: "snapshots" | "backups"): { el: HTMLElement; stop: () => void } {
  const preset = h("select", { name: `${what}-preset` }, PRESETS.map(([v, label]) => h("option", { value: v }, label)));
  const cron = h("input", { name: `${what}-cron`, placeholder: "30 2 * * *", autocomplete: "off", spellcheck: "false" });
  const cronField = field("Cron (M H DoM Mon DoW, UTC)", cron);
  const expiry = h("input", { name: "expiry", placeholder: "7d", autocomplete: "off" });
  const max = h("input", { name: "max", type: "number", step: "1" });
  const current = h("p", { class: "muted", "data-testid": `${what}-schedule` });
  const err = formError();
  const form = h(
    "form",
    { "aria-label": `${what === "snapshots" ? "Snapshot" : "Backup"} schedule`, novalidate: true },
    current,
    h("div", { class: "row wrap" }, field("Schedule", preset), cronField),
    what === "snapshots" ? h("div", { class: "row wrap" }, field("Keep for (e.g. 12h, 7d, 2w)", expiry, "Empty: until the count below."), field("Keep at most", max, "Empty: no count limit.")) : h("p", { class: "hint" }, "The newest backups are kept, up to the daemon's [backups] keep."),
    err,
    h("button", { type: "submit" }, "Save schedule"),
  );
  let dirty = false;
  form.addEventListener("input", () => (dirty = true));
  const showCron = () => (cronField.hidden = preset.value !== "custom");
  preset.addEventListener("change", showCron);
  expiry.addEventListener("input", () => setFieldError(expiry, checkText("SnapshotSchedule.expiry", expiry.value.trim(), "use a number with m, h, d or w, e.g. 7d")));
  max.addEventListener("input", () => setFieldError(max, checkNumber("SnapshotSchedule.max", max.value)));

  const fill = () => {
    const inst = instance(name);
    if (!inst) return;
    const s = what === "snapshots" ? inst.snapshots : inst.backups;
    const text = s?.schedule ?? "";
    current.textContent = text
      ? `Scheduled: ${text}${what === "snapshots" && inst.snapshots?.expiry ? `, kept ${inst.snapshots.expiry}` : ""}${what === "snapshots" && inst.snapshots?.max ? `, at most ${inst.snapshots.max}` : ""}.`
      : `No ${what === "snapshots" ? "snapshot" : "backup"} schedule.`;
    if (dirty) return;
    const known = PRESETS.some(([v]) => v === text && v !== "custom");
    preset.value = known ? text : "custom";
    cron.value = known ? "" : text;
    if (what === "snapshots") {
      expiry.value = inst.snapshots?.expiry ?? "";
      max.value = inst.snapshots?.max?.toString() ?? "";
    }
    showCron();
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const schedule = preset.value === "custom" ? cron.value.trim() : preset.value;
    if (preset.value === "custom" && !schedule) return setFieldError(cron, "give a cron line, e.g. 30 2 * * *"), cron.focus();
    let body: S["PatchInstanceRequest"];
    if (what === "snapshots") {
      const e1 = checkText("SnapshotSchedule.expiry", expiry.value.trim(), "use a number with m, h, d or w, e.g. 7d");
      const e2 = checkNumber("SnapshotSchedule.max", max.value);
      setFieldError(expiry, e1);
      setFieldError(max, e2);
      if (e1 || e2) return;
      body = { snapshots: { schedule, expiry: expiry.value.trim() || null, max: max.value ? Number(max.value) : null } };
    } else body = { backups: { schedule } };
    try {
      await patch(`/instances/${enc(name)}`, body);
      dirty = false;
      toast(schedule ? `${what === "snapshots" ? "Snapshot" : "Backup"} schedule saved: ${schedule}` : `${what === "snapshots" ? "Snapshot" : "Backup"} schedule turned off`);
      await loadInstance(name);
    } catch (e) {
      const f = what;
      showError(e, { [`${f}.schedule`]: preset.value === "custom" ? cron : preset, [`${f}.expiry`]: expiry, [`${f}.max`]: max }, err);
    }
  });
  fill();
  const stop = watch(fill, ["instances"]);
  return { el: card(`${what === "snapshots" ? "Snapshot" : "Backup"} schedule`, form), stop };
}
