//! The instance list, rendered from the store: search (name, address, owner, image), filters
//! (state, backend, owner), sortable columns, quick power actions, and importing a backup
//! archive (upload with progress).

import { type Instance } from "../api";
import { h, mount, stateBadge, bytes } from "../dom";
import { importForm } from "../importer";
import { powerButtons } from "../power";
import { isAdmin } from "../session";
import { allInstances, loadInstances, watch } from "../store";

export function limitsText(i: Instance): string {
  const l = i.limits;
  return [l.cpu ? `${l.cpu} CPU` : null, l.memory ? bytes(l.memory) : null, l.disk ? `${bytes(l.disk)} disk` : null]
    .filter(Boolean)
    .join(" · ");
}

type Column = { id: string; label: string; key?: (i: Instance) => string | number };

const addresses = (i: Instance) => [i.network.ipv4, i.network.ipv6].filter(Boolean).join(" ");
/** An IPv4 address as a number, so 10.0.0.9 sorts before 10.0.0.10. */
const ipKey = (i: Instance) => (i.network.ipv4 ?? "").split(".").reduce((n, p) => n * 256 + Number(p || 0), 0);

// The list's search, filters and order outlive a visit to another page.
const view = { q: "", state: "", backend: "", owner: "", sort: "name", dir: 1 };

export async function instancesPage(main: HTMLElement): Promise<() => void> {
  const admin = isAdmin();
  const box = h("div", { "aria-live": "polite" });
  const count = h("p", { class: "muted", role: "status", "data-testid": "match-count" });
  const search = h("input", { type: "search", name: "q", value: view.q, placeholder: "name, address, owner or image", autocomplete: "off" });
  const stateSel = h("select", { name: "state" });
  const backendSel = h("select", { name: "backend" });
  const ownerSel = h("select", { name: "owner" });
  const filters = h(
    "form",
    { class: "toolbar", role: "search", "aria-label": "Filter instances", "data-outage-keep": "" },
    h("div", { class: "field" }, h("label", { for: "inst-q" }, "Search"), Object.assign(search, { id: "inst-q" })),
    h("div", { class: "field" }, h("label", { for: "inst-state" }, "State"), Object.assign(stateSel, { id: "inst-state" })),
    h("div", { class: "field" }, h("label", { for: "inst-backend" }, "Backend"), Object.assign(backendSel, { id: "inst-backend" })),
    admin ? h("div", { class: "field" }, h("label", { for: "inst-owner" }, "Owner"), Object.assign(ownerSel, { id: "inst-owner" })) : null,
  );
  filters.addEventListener("submit", (ev) => ev.preventDefault());
  const importBox = h("div");
  const importToggle = h("button", { type: "button", "aria-expanded": "false" }, "Import a backup");
  importToggle.addEventListener("click", () => {
    const open = importToggle.getAttribute("aria-expanded") !== "true";
    importToggle.setAttribute("aria-expanded", String(open));
    mount(importBox, open ? importForm() : null);
  });
  mount(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Instances"), h("div", { class: "btns" }, importToggle, h("a", { href: "#/create", class: "button primary" }, "Create instance"))),
    importBox,
    filters,
    count,
    box,
  );

  const columns: Column[] = [
    { id: "name", label: "Name", key: (i) => i.name },
    { id: "state", label: "State", key: (i) => i.state },
    { id: "image", label: "Image", key: (i) => i.image },
    { id: "address", label: "Addresses", key: ipKey },
    { id: "limits", label: "Limits", key: (i) => i.limits.memory ?? 0 },
    { id: "backend", label: "Backend", key: (i) => i.backend },
    ...(admin ? [{ id: "owner", label: "Owner", key: (i: Instance) => i.owner }] : []),
    { id: "actions", label: "Actions" },
  ];

  /** Keeps a select's options to the values there are, and its choice when still there. */
  const options = (sel: HTMLSelectElement, all: string, values: string[], chosen: string) => {
    mount(sel, h("option", { value: "" }, all), [...new Set(values)].sort().map((v) => h("option", { value: v }, v)));
    sel.value = values.includes(chosen) ? chosen : "";
  };

  const draw = () => {
    const list = allInstances();
    options(stateSel, "any state", list.map((i) => i.state), view.state);
    options(backendSel, "any backend", list.map((i) => i.backend), view.backend);
    if (admin) options(ownerSel, "anyone", list.map((i) => i.owner), view.owner);
    const q = view.q.trim().toLowerCase();
    const shown = list
      .filter((i) => !q || [i.name, addresses(i), i.owner, i.image, i.backend].some((t) => t.toLowerCase().includes(q)))
      .filter((i) => !view.state || i.state === view.state)
      .filter((i) => !view.backend || i.backend === view.backend)
      .filter((i) => !view.owner || i.owner === view.owner);
    const col = columns.find((c) => c.id === view.sort)?.key ?? ((i: Instance) => i.name);
    shown.sort((a, b) => {
      const [x, y] = [col(a), col(b)];
      return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * view.dir;
    });
    count.textContent = list.length ? `${shown.length} of ${list.length} instance${list.length === 1 ? "" : "s"}` : "";
    if (!list.length) {
      mount(box, h("p", { class: "muted" }, "No instances yet — create one."));
      return;
    }
    if (!shown.length) {
      mount(box, h("p", { class: "muted" }, "No instance matches; change the search or the filters."));
      return;
    }
    const head = columns.map((c) => {
      if (!c.key) return h("th", { scope: "col" }, h("span", { class: "sr-only" }, c.label));
      const active = view.sort === c.id;
      const button = h("button", { type: "button", class: "sort", "data-outage-keep": "" }, c.label, h("span", { "aria-hidden": "true" }, active ? (view.dir > 0 ? " ▲" : " ▼") : ""));
      button.addEventListener("click", () => {
        view.dir = active ? -view.dir : 1;
        view.sort = c.id;
        draw();
      });
      return h("th", { scope: "col", "aria-sort": active ? (view.dir > 0 ? "ascending" : "descending") : null }, button);
    });
    const rows = shown.map((i) => {
      const cells: [string, Node | string][] = [
        ["Name", h("a", { href: `#/instances/${encodeURIComponent(i.name)}` }, i.name)],
        ["State", stateBadge(i)],
        ["Image", i.image],
        ["Addresses", h("span", { class: "mono" }, addresses(i) || "—")],
        ["Limits", limitsText(i) || "none"],
        ["Backend", i.backend],
        ...(admin ? ([["Owner", i.owner]] as [string, string][]) : []),
        ["", powerButtons(i, false)],
      ];
      return h("tr", { "data-instance": i.name }, cells.map(([label, c]) => h("td", { "data-label": label }, c)));
    });
    mount(box, h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Instances" }, h("table", {}, h("caption", { class: "sr-only" }, "Instances"), h("thead", {}, h("tr", {}, head)), h("tbody", {}, rows))));
  };

  search.addEventListener("input", () => {
    view.q = search.value;
    draw();
  });
  for (const [sel, key] of [
    [stateSel, "state"],
    [backendSel, "backend"],
    [ownerSel, "owner"],
  ] as const)
    sel.addEventListener("change", () => {
      view[key] = sel.value;
      draw();
    });
  await loadInstances();
  draw();
  return watch(draw);
}
