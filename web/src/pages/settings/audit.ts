//! The audit log (`GET /audit`): who did what, when, from where; admins see everyone's,
//! users their own. Filter by actor; page back with "older".

import { get, type S } from "../../api";
import { h, mount, card, field, table, when, badge } from "../../dom";

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
    mount(
      listBox,
      table(
        "Audit log",
        ["When", "Actor", "Action", "Target", "Result", "From"],
        rows.map((r) => [when(r.at), r.actor, r.action, r.target, badge(r.result.split(":")[0]), r.ip ?? "socket"]),
        "No entries.",
      ),
    );
  };
  const form = h("form", { class: "row" }, field("Actor", actor), h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load(true);
  });
  more.addEventListener("click", () => void load(false));
  await load(true);
  mount(box, card("Audit log", form, listBox, more));
}
