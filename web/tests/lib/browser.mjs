// Debian's Chromium through playwright-core (no browser is downloaded), and what the UI tests
// share: signing in, going to a page, screenshots, a console watch that fails the test on any
// browser error, and axe-core (from npm, injected into the page) for accessibility checks.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.BERTH_CHROMIUM ?? "/usr/bin/chromium";
export const ARTIFACTS = process.env.BERTH_WEB_ARTIFACTS ?? fileURLToPath(new URL("../../test-artifacts", import.meta.url));
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const DIST = fileURLToPath(new URL("../../dist", import.meta.url));

export const DESKTOP = { viewport: { width: 1280, height: 860 } };
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

export async function launch() {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
}

/** A browser context for `daemon`. BERTH_WEB_DEV=1 puts a small proxy in front of berthd that
 *  serves the UI from web/dist on disk instead of the copy embedded in berthd (for working on
 *  the UI without rebuilding berthd); the API and WebSockets pass through unchanged. */
export async function newContext(browser, daemon, options = DESKTOP) {
  const base = process.env.BERTH_WEB_DEV ? await devProxy(daemon) : daemon.url;
  return browser.newContext({ ...options, baseURL: base });
}

const proxies = new Map();
async function devProxy(daemon) {
  if (proxies.has(daemon.url)) return proxies.get(daemon.url);
  const target = new URL(daemon.url);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/" || url.pathname.startsWith("/assets/")) {
      const file = path.join(DIST, url.pathname === "/" ? "index.html" : url.pathname.slice(1));
      if (!existsSync(file)) return res.writeHead(404).end();
      const type = file.endsWith(".js") ? "text/javascript" : file.endsWith(".css") ? "text/css" : file.endsWith(".svg") ? "image/svg+xml" : "text/html";
      return res.writeHead(200, { "content-type": type }).end(readFileSync(file));
    }
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("upgrade", (req, socket, head) => {
    const up = net.connect(Number(target.port), target.hostname, () => {
      up.write(`${req.method} ${req.url} HTTP/1.1\r\n${Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`).join("\r\n")}\r\n\r\n`);
      up.write(head);
      socket.pipe(up).pipe(socket);
    });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  server.unref();
  const url = `http://127.0.0.1:${server.address().port}`;
  proxies.set(daemon.url, url);
  return url;
}

/** Records every console error, page error (uncaught exception or rejection) and failed
 *  request of `page`; `check()` fails the test on any not `allowed`. */
export function watchConsole(page, label) {
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()} (${m.location().url}:${m.location().lineNumber})`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  return {
    problems,
    /** Fails when there was any problem not matching `allowed` (regexps). */
    check(allowed = []) {
      const left = problems.filter((p) => !allowed.some((re) => re.test(p)));
      assert.deepEqual(left, [], `${label}: the browser reported errors`);
    },
    clear() {
      problems.length = 0;
    },
  };
}

export async function signIn(context, [user, password], where = "#/") {
  const p = await context.newPage();
  await p.goto("/");
  await p.getByLabel("Username").fill(user);
  await p.getByLabel("Password").fill(password);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("heading", { name: "Dashboard" }).waitFor();
  if (where !== "#/") await go(p, where);
  return p;
}

export async function go(p, hash) {
  // The same address again is a reload (a hash navigation to itself changes nothing).
  if (new URL(p.url()).hash === hash && p.url().includes("#")) await p.reload();
  else await p.goto(`/${hash}`);
  await p.locator("main h1").first().waitFor();
  await p.waitForLoadState("networkidle");
}

export async function shot(p, file) {
  await p.waitForTimeout(250);
  await p.screenshot({ path: path.join(ARTIFACTS, `${file}.png`), fullPage: true });
}

/** Runs axe-core on the page; fails on any serious or critical finding. */
export async function axe(p, label) {
  // Evaluated over the DevTools protocol: the page's CSP (no inline script) does not apply.
  if (!(await p.evaluate(() => "axe" in window))) await p.evaluate(AXE);
  const result = await p.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad, [], `${label}: axe-core found serious or critical problems`);
  return result;
}

/** Waits until `f()` is true (polling), or fails with `what`. */
export async function until(what, f, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}
