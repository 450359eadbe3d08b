//! One instance: header with state and power controls, and tabs (overview, charts, console,
//! snapshots, backups, forwards, activity) in the URL: `#/instances/web1/console`. The header
//! and every tab read the instance from the store, so they show the same state.

import { h, mount, stateBadge } from "../../dom";
import { powerButtons } from "../../power";
import { instance, isGone, loadInstance, watch } from "../../store";
import { overviewTab } from "./overview";
import { snapshotsTab } from "./snapshots";
import { backupsTab } from "./backups";
import { forwardsTab } from "./forwards";
import { activityTab } from "./activity";

/** A tab renders into `box` for the instance called `name` (read it with `instance(name)`). */
export type Tab = (box: HTMLElement, name: string) => Promise<(() => void) | void> | (() => void) | void;

const TABS: [string, string, Tab][] = [
  ["", "Overview", overviewTab],
  // uPlot and xterm.js load only when their tab is opened.
  ["charts", "Charts", async (box, name) => (await import("./charts")).chartsTab(box, name)],
  ["console", "Console", async (box, name) => (await import("./console")).consoleTab(box, name)],
  ["snapshots", "Snapshots", snapshotsTab],
  ["backups", "Backups", backupsTab],
  ["forwards", "Port forwards", forwardsTab],
  ["activity", "Activity", activityTab],
];

export async function instancePage(main: HTMLElement, params: string[]): Promise<() => void> {
  const [name, tabId = ""] = params;
  if (!(await loadInstance(name))) {
    mount(main, h("h1", {}, "Not found"), h("p", {}, `There is no instance called ${name}.`), h("a", { href: "#/instances" }, "Back to instances"));
    return () => {};
  }
  const head = h("div", { class: "page-head" });
  const tabBox = h("div", { class: "tab-body" });
  const drawHead = () => {
    const inst = instance(name);
    if (!inst) {
      if (isGone(name)) mount(head, h("h1", {}, name, " ", h("span", { class: "badge badge-deleting" }, "deleted")), h("a", { href: "#/instances" }, "Back to instances"));
      return;
    }
    mount(head, h("h1", {}, inst.name, " ", stateBadge(inst)), powerButtons(inst));
  };
  drawHead();
  const base = `#/instances/${encodeURIComponent(name)}`;
  const nav = h(
    "nav",
    { class: "tabs scroller", "aria-label": "Instance sections" },
    TABS.map(([id, label]) => h("a", { href: id ? `${base}/${id}` : base, "aria-current": id === tabId ? "page" : null }, label)),
  );
  mount(main, head, h("div", { class: "scroll-wrap" }, nav), tabBox);
  const tab = TABS.find(([id]) => id === tabId) ?? TABS[0];
  const tabCleanup = await tab[2](tabBox, name);
  const unwatch = watch(drawHead);
  return () => {
    unwatch();
    if (typeof tabCleanup === "function") tabCleanup();
  };
}
