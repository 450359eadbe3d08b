//! The app shell: routing by URL hash (`#/instances/web1/console`), the navigation, and the
//! sign-in gate. Each page renders into `<main>` and returns a cleanup function.

import "./style.css";
import { markSignedIn, post, whenUnauthorized } from "./api";
import { h, mount } from "./dom";
import { connect, disconnect, onStatus } from "./events";
import * as session from "./session";
import { loginPage } from "./pages/login";
import { dashboardPage } from "./pages/dashboard";
import { instancesPage } from "./pages/instances";
import { createPage } from "./pages/create";
import { instancePage } from "./pages/instance/index";
import { networkPage } from "./pages/network";
import { settingsPage } from "./pages/settings/index";

export type Cleanup = (() => void) | void;
export type Page = (main: HTMLElement, params: string[]) => Cleanup | Promise<Cleanup>;

const NAV: [string, string][] = [
  ["#/", "Dashboard"],
  ["#/instances", "Instances"],
  ["#/create", "Create"],
  ["#/network", "Network"],
  ["#/settings", "Settings"],
];

function route(hash: string): [Page, string[], string] {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case undefined:
      return [dashboardPage, [], "#/"];
    case "instances":
      return parts[1] ? [instancePage, parts.slice(1), "#/instances"] : [instancesPage, [], "#/instances"];
    case "create":
      return [createPage, [], "#/create"];
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
let navLinks: HTMLAnchorElement[] = [];

function shell(app: HTMLElement): HTMLElement {
  const me = session.current();
  const live = h("span", { class: "live", "aria-live": "polite" });
  onStatus((s) => {
    live.textContent = s === "live" ? "● live" : s === "connecting" ? "○ connecting" : "○ live updates not available";
    live.className = `live live-${s}`;
  });
  navLinks = NAV.map(([href, label]) => h("a", { href }, label));
  const main = h("main", { id: "main", tabindex: -1 });
  mount(
    app,
    h(
      "header",
      { class: "top" },
      h("a", { class: "brand", href: "#/" }, "⚓ Berth"),
      h("nav", { "aria-label": "Main" }, navLinks),
      h(
        "div",
        { class: "who" },
        live,
        h("span", { class: "muted" }, `${me?.user.username} (${me?.user.role})`),
        h("button", { type: "button", class: "link", onclick: logout }, "Sign out"),
      ),
    ),
    main,
  );
  return main;
}

async function logout(): Promise<void> {
  try {
    await post("/auth/logout");
  } catch {
    /* the session may already be gone */
  }
  session.clear();
  markSignedIn(false);
  disconnect();
  void start();
}

async function render(): Promise<void> {
  const hash = location.hash || "#/";
  if (!hash.startsWith("#/")) return; // an in-page anchor such as the skip link
  if (typeof cleanup === "function") cleanup();
  cleanup = undefined;
  const [page, params, active] = route(hash);
  navLinks.forEach((a) => (a.getAttribute("href") === active ? a.setAttribute("aria-current", "page") : a.removeAttribute("aria-current")));
  const main = shellMain;
  if (!main) return;
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    cleanup = await page(main, params);
  } catch (e) {
    mount(main, h("p", { class: "error", role: "alert" }, `Could not load this page: ${(e as Error).message}`));
  }
  document.title = `${main.querySelector("h1")?.textContent ?? "Berth"} · Berth`;
}

async function start(): Promise<void> {
  document.documentElement.dataset.theme = localStorage.getItem("berth-theme") ?? "dark";
  const app = document.getElementById("app");
  if (!app) return;
  const me = await session.load();
  if (!me) {
    shellMain = null;
    loginPage(app, () => void start());
    return;
  }
  connect();
  shellMain = shell(app);
  await render();
}

whenUnauthorized(() => {
  session.clear();
  disconnect();
  void start();
});
window.addEventListener("hashchange", () => {
  void render().then(() => shellMain?.focus({ preventScroll: true }));
});
void start();
