//! Operations as a list: what, on which target, status, when; each expands to its steps with
//! their status, times and messages, and the failure reason; a running one that can be
//! cancelled has a Cancel button. Used by the dashboard, an instance's activity and images.

import type { Operation } from "./api";
import { ago, badge, h, when } from "./dom";
import { cancelButton, ended } from "./ops";

export function kindText(o: Operation): string {
  return o.kind.replace(/^instance_/, "").replace(/_/g, " ");
}

function seconds(a?: string | null, b?: string | null): string {
  if (!a || !b) return "";
  const s = (new Date(b).getTime() - new Date(a).getTime()) / 1000;
  return ` (${s < 10 ? s.toFixed(1) : Math.round(s)} s)`;
}

function steps(o: Operation): HTMLElement {
  return h(
    "ol",
    { class: "steps" },
    o.steps.map((s) =>
      h(
        "li",
        { class: `step step-${s.status}` },
        h("span", { class: "step-status" }, s.status),
        ` ${s.name}`,
        s.message ? `: ${s.message}` : "",
        h("span", { class: "muted" }, seconds(s.started_at, s.finished_at)),
      ),
    ),
  );
}

/** Which operations the user opened: a redraw keeps them open. */
const opened = new Set<string>();

/** One operation as a disclosure: the summary line, then steps and error. */
export function operationItem(o: Operation, opts: { target?: boolean } = {}): HTMLElement {
  const running = !ended(o);
  const details = h(
      "details",
      { open: opened.has(o.id) },
      h(
        "summary",
        {},
        h("strong", {}, kindText(o)),
        opts.target ? [" ", h("span", { class: "mono" }, o.target)] : null,
        " ",
        badge(o.status === "running" ? "running-op" : o.status),
        running ? h("span", { class: "pct" }, ` ${o.progress} %`) : null,
        h("span", { class: "muted" }, ` · ${o.owner} · `, h("time", { datetime: o.created_at, title: when(o.created_at) }, ago(o.created_at))),
        o.error ? h("span", { class: "op-error" }, ` — ${o.error}`) : running && o.message ? h("span", { class: "muted" }, ` — ${o.message}`) : null,
      ),
      h(
        "div",
        { class: "op-body" },
        h("p", { class: "muted" }, `Started ${when(o.created_at)}; last change ${when(o.updated_at)}. Operation ${o.id}.`),
        o.error ? h("p", { class: "error" }, `Failed: ${o.error}`) : null,
        steps(o),
      ),
    );
  details.addEventListener("toggle", () => (details.open ? opened.add(o.id) : opened.delete(o.id)));
  return h("li", { class: `op op-${o.status}`, "data-op": o.id }, details, running && o.cancellable ? cancelButton(o) : null);
}

export function operationRows(ops: Operation[], opts: { target?: boolean } = {}): HTMLElement {
  if (!ops.length) return h("p", { class: "muted" }, "No operations yet.");
  return h("ul", { class: "ops", "aria-label": "Operations" }, ops.map((o) => operationItem(o, opts)));
}
