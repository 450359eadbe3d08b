//! The audit log (`GET /audit`): who did what, to which target, when, from where, and how it
//! ended (the failure reason in full); each entry opens to its parameters (secrets redacted by
//! the daemon). Admins see everyone's, users their own. Filter by actor; page back with "older".

import { get, type S } from "../../api";
import { h, mount, card, field, when, badge } from "../../dom";

function entry(r: S["AuditEntry"]): HTMLElement {
  const [result, ...why] = r.result.split(":");
  const reason = why.join(":").trim();
  const params = r.params && typeof r.params === "object" && Object.keys(r.params as object).length ? JSON.stringify(r.params, null, 2) : null;
  return h(
    "li",
    { class: "audit-entry", "data-action": r.action },
    h(
      "details",
      {},
      h(
        "summary",
        {},
        h("time", { datetime: r.at }, when(r.at)),
        " ",
        h("strong", {}, r.actor),
        " ",
        h("span", { class: "mono" }, r.action),
        r.target ? [" on ", h("span", { class: "mono" }, r.target)] : null,
        " ",
        badge(result),
        reason ? h("span", { class: "op-error" }, ` — ${reason}`) : null,
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Target"),
        h("dd", {}, r.target || "—"),
        h("dt", {}, "Result"),
        h("dd", {}, r.result),
        h("dt", {}, "From"),
        h("dd", {}, r.ip ?? "the unix socket", r.user_agent ? h("span", { class: "muted" }, ` · ${r.user_agent}`) : null),
        h("dt", {}, "Parameters"),
        h("dd", {}, params ? h("pre", { class: "mono params" }, params) : "none"),
      ),
    ),
  );
}

export async function auditSection(box: HTMLElement): Promise<void> {
  const actor = h("input", { name: "actor", placeholder: "alice" });
  const listBox = h("div");
  const more = h("button", { type: "button", class: "small" }, "Older entries");
  let before: number | null = null;
  let rows: S["AuditEntry"][] = [];
  const load = async (reset: boolean) => {
    if (reset) {
      before = null;
      rows = [];
    }
    const q = new URLSearchParams({ limit: "50" });
    if (actor.value) q.set("actor", actor.value);
    if (before !== null) q.set("before", String(before));
    const page = await get<S["AuditEntry"][]>(`/audit?${q}`);
    rows = rows.concat(page);
    before = page.at(-1)?.id ?? before;
    more.hidden = page.length < 50;
    mount(listBox, rows.length ? h("ul", { class: "ops", "aria-label": "Audit log" }, rows.map(entry)) : h("p", { class: "muted" }, "No entries."));
  };
  const form = h("form", { class: "row", "aria-label": "Filter the audit log", "data-outage-keep": "" }, field("Actor", actor), h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load(true).catch(() => {});
  });
  more.addEventListener("click", () => void load(false).catch(() => {}));
  await load(true);
  mount(box, card("Audit log", form, listBox, more));
}
