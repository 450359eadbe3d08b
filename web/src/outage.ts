//! What the page does while berthd (or a remote backend) cannot be reached: a persistent
//! banner saying so, since when and when the next try is; the last data left on screen and
//! marked stale with its age; every action disabled with the reason. When the stream returns
//! it all comes back (the shell re-renders the page). Remote backends (proxmox) that are
//! unreachable get a banner of their own, from the instances the store marks stale.

import { h, mount } from "./dom";
import { current, onLink, retryNow, type Link } from "./link";
import { allInstances, watch } from "./store";

const REASON_ID = "outage-reason";
/** Controls this module disabled (and will enable again). */
const MARK = "data-outage-disabled";

export function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s ago`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
}

function disableIn(root: ParentNode): void {
  root.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>("button, input, select, textarea").forEach((el) => {
    if (el.disabled || el.closest("[data-outage-keep]")) return;
    el.disabled = true;
    el.setAttribute(MARK, "");
    const described = el.getAttribute("aria-describedby") ?? "";
    if (!described.split(" ").includes(REASON_ID)) el.setAttribute("aria-describedby", `${described} ${REASON_ID}`.trim());
  });
  root.querySelectorAll<HTMLAnchorElement>("a.button").forEach((a) => {
    if (a.hasAttribute(MARK)) return;
    a.setAttribute(MARK, "");
    a.setAttribute("aria-disabled", "true");
  });
}

/** State badges on screen say they may be out of date. */
function markStale(root: ParentNode): void {
  root.querySelectorAll<HTMLElement>(".badge[data-state]:not(.outage-stale):not(.badge-stale)").forEach((b) => {
    b.classList.add("outage-stale");
    b.append(h("span", { class: "outage-mark" }, " (stale)"));
    b.title = "berthd is unreachable: this is the last known state";
  });
}

function unmarkStale(): void {
  document.querySelectorAll(".outage-mark").forEach((m) => m.remove());
  document.querySelectorAll<HTMLElement>(".outage-stale").forEach((b) => {
    b.classList.remove("outage-stale");
    b.removeAttribute("title");
  });
}

function enableAll(): void {
  document.querySelectorAll(`[${MARK}]`).forEach((el) => {
    el.removeAttribute(MARK);
    if (el instanceof HTMLAnchorElement) el.removeAttribute("aria-disabled");
    else (el as HTMLButtonElement).disabled = false;
    const described = (el.getAttribute("aria-describedby") ?? "").split(" ").filter((id) => id && id !== REASON_ID);
    if (described.length) el.setAttribute("aria-describedby", described.join(" "));
    else el.removeAttribute("aria-describedby");
  });
}

/** Builds the banners into `box` (right under the header) and keeps them current. */
export function outageBanner(box: HTMLElement, main: HTMLElement): () => void {
  const headline = h("p", { class: "banner-head" });
  const reason = h("p", { id: REASON_ID });
  const countdown = h("span", { class: "muted" });
  const retry = h("button", { type: "button", class: "small", onclick: () => retryNow() }, "Retry now");
  const down = h("div", { class: "banner banner-down", role: "alert", "data-outage-keep": "", hidden: true }, headline, reason, h("p", {}, countdown, " ", retry));
  const remote = h("div", { class: "banner banner-remote", role: "status", hidden: true });
  const note = h("p", { class: "stale-note", "data-testid": "stale-note", hidden: true });
  mount(box, down, remote);
  main.before(note);

  // While down, controls that appear (a re-render, a dialog) are disabled too.
  const observer = new MutationObserver(() => {
    disableIn(document.body);
    markStale(document.body);
  });
  const block = (ev: Event) => {
    if (current().state !== "down") return;
    const target = ev.target as Element | null;
    if (ev.type === "submit" || target?.closest?.(`a[${MARK}]`)) {
      ev.preventDefault();
      ev.stopPropagation();
    }
  };
  document.addEventListener("click", block, true);
  document.addEventListener("submit", block, true);

  let wasDown = false;
  const tick = (l: Link) => {
    if (l.state !== "down") return;
    const since = new Date(l.since).toLocaleTimeString();
    headline.textContent = `berthd is unreachable (since ${since}).`;
    reason.textContent = `${l.reason[0].toUpperCase()}${l.reason.slice(1)}. What you see is from ${ago(l.syncedAt)} and may be out of date; actions are disabled until berthd is back.`;
    const left = Math.max(0, Math.ceil((l.retryAt - Date.now()) / 1000));
    countdown.textContent = left > 0 ? `Trying again in ${left} s…` : "Trying again…";
    note.textContent = `Stale: last updated ${new Date(l.syncedAt).toLocaleTimeString()} (${ago(l.syncedAt)}).`;
  };
  const apply = (l: Link) => {
    const isDown = l.state === "down";
    down.hidden = !isDown;
    note.hidden = !isDown;
    document.body.classList.toggle("offline", isDown);
    if (isDown) {
      tick(l);
      if (!wasDown) {
        disableIn(document.body);
        markStale(document.body);
        observer.observe(document.body, { childList: true, subtree: true });
      }
    } else if (wasDown) {
      observer.disconnect();
      enableAll();
      unmarkStale();
    }
    wasDown = isDown;
  };
  const offLink = onLink(apply);
  const timer = window.setInterval(() => tick(current()), 1000);

  const drawRemote = () => {
    const stale = allInstances().filter((i) => i.cache === "stale");
    const backends = [...new Set(stale.map((i) => i.backend))];
    remote.hidden = stale.length === 0;
    if (stale.length)
      mount(
        remote,
        h("p", { class: "banner-head" }, `${backends.join(", ")} ${backends.length > 1 ? "are" : "is"} unreachable.`),
        h("p", {}, `${stale.length} instance${stale.length > 1 ? "s show their" : " shows its"} last known state (marked stale) until ${backends.length > 1 ? "they answer" : "it answers"} again; berthd keeps trying.`),
      );
  };
  const unwatch = watch(drawRemote);
  drawRemote();
  return () => {
    offLink();
    unwatch();
    clearInterval(timer);
    observer.disconnect();
    document.removeEventListener("click", block, true);
    document.removeEventListener("submit", block, true);
    note.remove();
    enableAll();
    unmarkStale();
  };
}
