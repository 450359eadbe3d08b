//! The app shell: routing by URL hash (`#/instances/web1/console`), the navigation, the link
//! status and outage banner, the theme, and the sign-in gate (`GET /auth/session`, which never
//! answers 401). Each page renders into `<main>` and returns a cleanup function; when the
//! stream comes back after an outage the page renders itself again.

import "./style.css";
import { markSignedIn, message, post, refreshSession, whenUnauthorized } from "./api";
import { h, mount } from "./dom";
import { onLink, onReconnect, startLink, stopLink } from "./link";
import { outageBanner } from "./outage";
import * as session from "./session";
import * as store from "./store";
import { applyTheme } from "./theme";
import { loginPage } from "./pages/login";
import { dashboardPage } from "./pages/dashboard";
import { instancesPage } from "./pages/instances";
import { createPage } from "./pages/create";
import { instancePage } from "./pages/instance/index";

export type Cleanup = (() => void) | void;
export type Page = (main: HTMLElement, params: string[]) => Cleanup | Promise<Cleanup>;

// Pages used less often load with their first visit (esbuild code splitting).
const lazy =
  (load: () => Promise<Page>): Page =>
  async (main, params) =>
    (await load())(main, params);
const networkPage = lazy(async () => (await import("./pages/network")).networkPage);
const imagesPage = lazy(async () => (await import("./pages/images")).imagesPage);
const settingsPage = lazy(async () => (await import("./pages/settings/index")).settingsPage);

const NAV: [string, string][] = [
  ["#/", "Dashboard"],
  ["#/instances", "Instances"],
  ["#/create", "Create"],
  ["#/images", "Images"],
  ["#/network", "Network"],
  ["#/settings", "Settings"],
];

function route(hash: string): [Page, string[], string] {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case "instances":
      return parts[1] ? [instancePage, parts.slice(1), "#/instances"] : [instancesPage, [], "#/instances"];
    case "create":
      return [createPage, [], "#/create"];
    case "images":
      return [imagesPage, [], "#/images"];
    case "network":
      return [networkPage, [], "#/network"];
    case "settings":
      return [settingsPage, parts.slice(1), "#/settings"];
    default:
      return [dashboardPage, [], "#/"];
  }
}

let cleanup: Cleanup;
let shellMain: HTMLElement | null = null;
let shellCleanup: (() => void) | null = null;
let navLinks: HTMLAnchorElement[] = [];
let rendering = 0;

function shell(app: HTMLElement): HTMLElement {
  const me = session.current();
  const live = h("span", { class: "live", role: "status" });
  navLinks = NAV.map(([href, label]) => h("a", { href }, label));
  const main = h("main", { id: "main", tabindex: -1 });
  const banners = h("div", { class: "banners" });
  mount(
    app,
    h(
      "header",
      { class: "top" },
      h("a", { class: "brand", href: "#/" }, h("span", { "aria-hidden": "true" }, "⚓ "), "Berth"),
      h("nav", { "aria-label": "Main", class: "scroller" }, navLinks),
      h(
        "div",
        { class: "who" },
        live,
        h("span", { class: "muted" }, `${me?.user.username} (${me?.user.role})`),
        h("button", { type: "button", class: "link", "data-outage-keep": "", onclick: () => void logout() }, "Sign out"),
      ),
    ),
    banners,
    main,
  );
  const offLink = onLink((l) => {
    live.textContent = l.state === "up" ? "● live" : l.state === "connecting" ? "○ connecting" : "✕ offline";
    live.className = `live live-${l.state}`;
  });
  const offBanner = outageBanner(banners, main);
  const offReconnect = onReconnect(() => void render(false));
  shellCleanup = () => {
    offLink();
    offBanner();
    offReconnect();
  };
  return main;
}

async function logout(): Promise<void> {
  try {
    await post("/auth/logout");
  } catch {
    /* the session may already be gone */
  }
  signedOut();
}

function signedOut(): void {
  session.clear();
  markSignedIn(false);
  stopLink();
  store.clear();
  void start();
}

/** Renders the page for the current hash; `focus` moves focus to it (a navigation). */
async function render(focus = true): Promise<void> {
  const hash = location.hash || "#/";
  if (!hash.startsWith("#/")) return; // an in-page anchor such as the skip link
  const main = shellMain;
  if (!main) return;
  const mine = ++rendering;
  if (typeof cleanup === "function") cleanup();
  cleanup = undefined;
  const [page, params, active] = route(hash);
  navLinks.forEach((a) => (a.getAttribute("href") === active ? a.setAttribute("aria-current", "page") : a.removeAttribute("aria-current")));
  if (!main.firstChild || focus) main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let done: Cleanup;
  try {
    done = await page(main, params);
  } catch (e) {
    if (mine !== rendering) return;
    mount(main, h("h1", {}, "Could not load this page"), h("p", { class: "error", role: "alert" }, message(e)), h("p", { class: "muted" }, "It loads again by itself when berthd answers."));
    return;
  }
  if (mine !== rendering) {
    if (typeof done === "function") done();
    return;
  }
  cleanup = done;
  document.title = `${main.querySelector("h1")?.textContent ?? "Berth"} · Berth`;
  if (focus) main.focus({ preventScroll: true });
}

async function start(): Promise<void> {
  applyTheme();
  const app = document.getElementById("app");
  if (!app) return;
  shellCleanup?.();
  shellCleanup = null;
  let me = await session.load();
  if (!me && (await refreshSession(session.lastExpired()))) me = await session.load();
  if (!me) {
    shellMain = null;
    loginPage(app, () => void start());
    return;
  }
  startLink(signedOut);
  shellMain = shell(app);
  await render(false);
}

whenUnauthorized(signedOut);
window.addEventListener("hashchange", () => void render());
// A link to the page already shown (Create from the create wizard's result) renders it anew.
document.addEventListener("click", (ev) => {
  const a = (ev.target as Element | null)?.closest?.("a[href^='#/']");
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
  if (a.getAttribute("href") === (location.hash || "#/")) {
    ev.preventDefault();
    void render();
  }
});
void start();
