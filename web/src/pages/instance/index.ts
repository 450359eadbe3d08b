//! One instance: header with state and power controls, and tabs (overview, charts, console,
//! snapshots, backups, forwards, activity) in the URL: `#/instances/web1/console`.

import { ApiError, enc, get, type Instance } from "../../api";
import { h, mount, stateBadge, debounce } from "../../dom";
import { subscribe } from "../../events";
import { powerButtons } from "../../power";
import { overviewTab } from "./overview";
import { snapshotsTab } from "./snapshots";
import { backupsTab } from "./backups";
import { forwardsTab } from "./forwards";
import { activityTab } from "./activity";

export type Tab = (box: HTMLElement, inst: Instance, refresh: () => Promise<void>) => Promise<(() => void) | void> | (() => void) | void;

const TABS: [string, string, Tab][] = [
  ["", "Overview", overviewTab],
  // uPlot and xterm.js load only when their tab is opened.
  ["charts", "Charts", async (box, inst) => (await import("./charts")).chartsTab(box, inst)],
  ["console", "Console", async (box, inst) => (await import("./console")).consoleTab(box, inst)],
  ["snapshots", "Snapshots", snapshotsTab],
  ["backups", "Backups", backupsTab],
  ["forwards", "Port forwards", forwardsTab],
  ["activity", "Activity", activityTab],
];

export async function instancePage(main: HTMLElement, params: string[]): Promise<() => void> {
  const [name, tabId = ""] = params;
  let inst: Instance;
  try {
    inst = await get<Instance>(`/instances/${enc(name)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      mount(main, h("h1", {}, "Not found"), h("p", {}, `There is no instance called ${name}.`), h("a", { href: "#/instances" }, "Back to instances"));
      return () => {};
    }
    throw e;
  }
  const head = h("div", { class: "page-head" });
  const tabBox = h("div", { class: "tab-body" });
  const drawHead = () =>
    mount(
      head,
      h("h1", {}, inst.name, " ", stateBadge(inst)),
      powerButtons(inst, () => void refresh()),
    );
  const refresh = async () => {
    try {
      inst = await get<Instance>(`/instances/${enc(name)}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        location.hash = "#/instances";
        return;
      }
      throw e;
    }
    drawHead();
  };
  drawHead();
  const base = `#/instances/${encodeURIComponent(name)}`;
  const nav = h(
    "nav",
    { class: "tabs", "aria-label": "Instance sections" },
    TABS.map(([id, label]) => h("a", { href: id ? `${base}/${id}` : base, "aria-current": id === tabId ? "page" : null }, label)),
  );
  mount(main, head, nav, tabBox);
  const tab = TABS.find(([id]) => id === tabId) ?? TABS[0];
  const tabCleanup = await tab[2](tabBox, inst, refresh);
  const unsub = subscribe(
    (e) => e.instance === name && (e.type === "lifecycle" || e.type === "operation"),
    debounce(() => void refresh(), 200),
  );
  return () => {
    unsub();
    if (typeof tabCleanup === "function") tabCleanup();
  };
}
