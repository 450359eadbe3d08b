//! Admins: alert rules and the alert history (`/alerts/rules`, `/alerts/events`), shown when
//! this daemon has them.

import { ApiError, del, enc, optional } from "../../api";
import { h, mount, card, table, unavailable, toast } from "../../dom";

type Row = Record<string, unknown>;

function cell(v: unknown): string {
  if (v === null || v === undefined) return "—";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** A table of whatever fields the rows have (the alert API is another helper's). */
function generic(caption: string, rows: Row[], action?: (r: Row) => HTMLElement): HTMLElement {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => k !== "owner_id").slice(0, 8);
  return table(caption, [...keys, ...(action ? [""] : [])], rows.map((r) => [...keys.map((k) => cell(r[k])), ...(action ? [action(r)] : [])]), "None.");
}

export async function alertsSection(box: HTMLElement): Promise<void> {
  const [rules, events] = await Promise.all([optional<Row[]>("/alerts/rules").catch(() => null), optional<Row[]>("/alerts/events").catch(() => null)]);
  if (rules === null && events === null) {
    mount(box, card("Alerts", unavailable("Alert rules and history")));
    return;
  }
  const remove = (r: Row) =>
    h(
      "button",
      {
        type: "button",
        class: "small danger",
        onclick: async () => {
          try {
            await del(`/alerts/rules/${enc(String(r.id))}`);
            toast("Rule deleted");
            await alertsSection(box);
          } catch (e) {
            toast(e instanceof ApiError ? e.message : String(e), "error");
          }
        },
      },
      "delete",
    );
  mount(box, card("Alert rules", rules ? generic("Alert rules", rules, remove) : unavailable("Rules")), card("Alert history", events ? generic("Alert history", events) : unavailable("History")));
}
