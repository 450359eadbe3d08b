//! A progress view for an upload or an operation: a labelled bar with its percentage, the
//! current message, the operation's steps, and its outcome (the failed step and reason).

import type { Operation } from "./api";
import { card, h, mount } from "./dom";
import { cancelButton, ended } from "./ops";

export function progressView(title: string) {
  const bar = h("div", { class: "bar big-bar", role: "progressbar", "aria-label": title, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0 }, h("div", { class: "bar-fill" }));
  const pct = h("span", { class: "pct" }, "0 %");
  const text = h("p", { class: "op-message", "aria-live": "polite" });
  const steps = h("ol", { class: "steps" });
  const actions = h("div", { class: "btns" });
  const outcome = h("div", { role: "alert" });
  const el = card(title, h("div", { class: "row" }, bar, pct), text, steps, actions, outcome);
  const set = (percent: number, message: string) => {
    const p = Math.max(0, Math.min(100, percent));
    bar.setAttribute("aria-valuenow", String(p));
    (bar.firstChild as HTMLElement).style.width = `${p}%`;
    pct.textContent = `${p} %`;
    text.textContent = message;
  };
  return {
    el,
    set,
    /** Shows the operation's progress, message and steps (and Cancel while it can be). */
    op(o: Operation) {
      set(o.progress, o.message);
      mount(steps, o.steps.map((s) => h("li", { class: `step step-${s.status}` }, h("span", { class: "step-status" }, s.status), ` ${s.name}${s.message ? `: ${s.message}` : ""}`)));
      mount(actions, !ended(o) && o.cancellable ? cancelButton(o) : null);
    },
    done(...content: Node[]) {
      mount(actions);
      mount(outcome, content);
    },
    failed(o: Operation) {
      mount(actions);
      bar.classList.add("bar-high");
      const at = o.steps.find((s) => s.status === "failed");
      mount(outcome, h("p", { class: "error" }, o.status === "cancelled" ? `Cancelled${o.error ? `: ${o.error}` : "."}` : `Failed${at ? ` at step "${at.name}"` : ""}: ${o.error ?? o.status}`));
    },
    remove() {
      el.remove();
    },
  };
}
