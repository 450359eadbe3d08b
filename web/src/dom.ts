//! DOM helpers: element building without innerHTML (user data is always text), formatting,
//! toasts and the confirmation dialog.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** `h("button", {class: "x", onclick: f}, "Start")`: attributes starting with `on` are listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value as EventListener);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el: Element, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "object" ? child : String(child));
  }
}

/** Replaces `el`'s content. */
export function mount(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

let ids = 0;
/** A unique id for label/input pairs. */
export function uid(prefix = "f"): string {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled form field: `<label for>` + the control + an inline error line. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string | Node,
): HTMLDivElement {
  if (!control.id) control.id = uid();
  const err = h("p", { class: "field-error", id: `${control.id}-err`, role: "alert" });
  const hintEl = hint ? h("p", { class: "hint", id: `${control.id}-hint` }, hint) : null;
  control.setAttribute("aria-describedby", [hintEl?.id, err.id].filter(Boolean).join(" "));
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl, err);
}

/** Shows `message` under the control (or clears it). A fragment ("is too short; …") is made
 *  a sentence with the control's label. */
export function setFieldError(control: Element, message: string | null): void {
  const err = document.getElementById(`${control.id}-err`);
  const label = document.querySelector(`label[for="${control.id}"]`)?.textContent ?? "";
  if (err) err.textContent = message ? sentence(label, message) : "";
  if (message) control.setAttribute("aria-invalid", "true");
  else control.removeAttribute("aria-invalid");
}

/** `"is too short; give 8"` under "Password" → "Password is too short; give 8". */
export function sentence(subject: string, message: string): string {
  const m = message.trim();
  if (/^(is|are|has|must|contains|does|needs|should|may)\b/.test(m) && subject) return `${subject.replace(/\s*\(.*\)$/, "")} ${m}`;
  return m ? m[0].toUpperCase() + m.slice(1) : m;
}

/** Clears every field error in `root`. */
export function clearErrors(root: ParentNode): void {
  root.querySelectorAll("[aria-invalid=true]").forEach((c) => setFieldError(c, null));
  root.querySelectorAll<HTMLElement>(".form-error").forEach((e) => (e.textContent = ""));
}

/** A form-level error line (for errors that belong to no one field). */
export function formError(): HTMLParagraphElement {
  return h("p", { class: "error form-error", role: "alert" });
}

/** Puts an API error under its field when `fields` has it (once, there), else in `fallback`;
 *  focuses the field. `fields` maps the API's field names (`limits.memory`) to controls. */
export function showError(e: unknown, fields: Record<string, Element | undefined>, fallback: HTMLElement): void {
  const field = (e as { field?: string | null }).field ?? null;
  const text = e instanceof Error ? e.message : String(e);
  const control = field ? (fields[field] ?? fields[field.replace(/\[\d+\]$/, "")] ?? fields[field.split(".")[0]]) : undefined;
  if (control) {
    setFieldError(control, text);
    (control as HTMLElement).focus();
  } else fallback.textContent = sentence(field ?? "", text);
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : Number(v.toFixed(1))} ${UNITS[i]}`;
}

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

/** A time (ISO text, or unix seconds) in the browser's locale. */
export function when(at: string | number | null | undefined): string {
  if (at === null || at === undefined || at === "") return "—";
  const d = typeof at === "number" ? new Date(at * 1000) : new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : d.toLocaleString();
}

export function ago(iso: string): string {
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** Seconds as "3 d 4 h", "5 h 12 min", "4 min 10 s". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hh} h`;
  if (hh) return `${hh} h ${m} min`;
  if (m) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

/** A state badge: colour plus the word (never colour alone). */
export function badge(state: string): HTMLSpanElement {
  return h("span", { class: `badge badge-${state.replace(/\s+/g, "-")}` }, state);
}

/** An instance's state badge; a remote backend's last known state (its API is unreachable) is
 *  marked stale, as `berth list` does. */
export function stateBadge(i: { state: string; cache?: string | null; backend: string }): HTMLSpanElement {
  const b = badge(i.state);
  b.dataset.state = i.state;
  if (i.cache === "stale") {
    b.append(" (stale)");
    b.title = `${i.backend} is unreachable: this is the last known state`;
    b.classList.add("badge-stale");
  }
  return b;
}

/** A labelled usage bar (`used` of `total`). */
export function usageBar(label: string, used: number, total: number | null, fmt = bytes): HTMLDivElement {
  const pct = total ? Math.min(100, (used / total) * 100) : 0;
  const text = total ? `${fmt(used)} of ${fmt(total)}` : `${fmt(used)} (no limit)`;
  return h(
    "div",
    { class: "usage" },
    h("div", { class: "usage-head" }, h("span", {}, label), h("span", { class: "muted" }, text)),
    h(
      "div",
      {
        class: `bar ${pct > 90 ? "bar-high" : ""}`,
        role: "progressbar",
        "aria-label": label,
        "aria-valuemin": 0,
        "aria-valuemax": 100,
        "aria-valuenow": Math.round(pct),
        "aria-valuetext": text,
      },
      h("div", { class: "bar-fill", style: `width:${pct}%` }),
    ),
  );
}

/** A button that copies `text()` to the clipboard and says so. */
export function copyButton(what: string, text: () => string): HTMLButtonElement {
  const b = h("button", { type: "button", class: "small copy", "aria-label": `Copy ${what}`, "data-outage-keep": "" }, "Copy");
  b.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      b.textContent = "Copied";
      toast(`${what[0].toUpperCase()}${what.slice(1)} copied to the clipboard`);
    } catch {
      b.textContent = "Copy failed";
      toast("The browser did not allow copying; select the text and copy it by hand", "error");
    }
    setTimeout(() => (b.textContent = "Copy"), 2000);
  });
  return b;
}

export function toast(message: string, kind: "ok" | "error" = "ok"): void {
  const box = document.getElementById("toasts");
  if (!box) return;
  const t = h("div", { class: `toast toast-${kind}` }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

/** A modal confirmation (native <dialog>: focus is trapped and Escape cancels). */
export function confirmDialog(title: string, body: string | Node, action: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dlg = h("dialog", { class: "dialog", "aria-labelledby": "dlg-title" });
    const done = (ok: boolean) => {
      dlg.close();
      dlg.remove();
      resolve(ok);
    };
    const cancel = h("button", { type: "button", onclick: () => done(false) }, "Cancel");
    const ok = h("button", { type: "button", class: "danger", onclick: () => done(true) }, action);
    mount(dlg, h("h2", { id: "dlg-title" }, title), h("p", {}, body), h("div", { class: "actions" }, cancel, ok));
    dlg.addEventListener("cancel", () => done(false));
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

/** A card section with a heading. */
export function card(title: string, ...children: (Child | Child[])[]): HTMLElement {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

/** A table from column headers and rows of cells. */
export function table(caption: string, headers: string[], rows: (Child | Child[])[][], empty = "Nothing yet."): HTMLElement {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  // A region that may scroll sideways can be reached (and scrolled) with the keyboard.
  return h(
    "div",
    { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", { class: "sr-only" }, caption),
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { "data-label": headers[i] ?? "" }, ...(Array.isArray(c) ? c : [c])))))),
    ),
  );
}

/** "not available" for a feature whose endpoint this daemon does not have. */
export function unavailable(what: string, why = "this berthd does not offer it yet"): HTMLElement {
  return h("p", { class: "unavailable" }, `${what}: not available — ${why}.`);
}

/** `f` at most once per `ms`, after the last call (bursts of events cause one redraw). */
export function debounce(f: () => void, ms = 200): () => void {
  let timer: number | undefined;
  return () => {
    clearTimeout(timer);
    timer = window.setTimeout(f, ms);
  };
}
