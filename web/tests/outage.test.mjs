// Issue 17, point 2: berthd goes away mid-session (killed, as a crash) and comes back. The page
// shows a persistent banner within 2 s, keeps its data marked stale with its age, disables
// every action with the reason, retries with backoff, and recovers by itself when berthd is
// back — no reload, no console error, no uncaught exception. The same when the browser's own
// network drops. The test fails on any console error.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, Daemon } from "./lib/daemon.mjs";
import { go, launch, newContext, shot, signIn, until, watchConsole } from "./lib/browser.mjs";

let d;
let browser;
let name;

before(async () => {
  d = await Daemon.start({ index: 2 });
  name = `${d.id}-out`;
  d.berth("image", "build", "debian/12"); // a no-op when cached
  d.berth("launch", "debian/12", name, "--memory", "256MiB", "--disk", "2GiB");
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await d?.stop();
});

/** The state of the page's controls: how many are enabled, and how many are disabled with the
 *  outage's reason attached. */
async function controls(p) {
  return p.evaluate(() => {
    const all = [...document.querySelectorAll("main button, main input, main select, main textarea")];
    const described = (el) => (el.getAttribute("aria-describedby") ?? "").split(" ").includes("outage-reason");
    return {
      enabled: all.filter((el) => !el.disabled).map((el) => el.getAttribute("aria-label") ?? el.textContent?.trim() ?? el.name),
      disabledWithReason: all.filter((el) => el.disabled && described(el)).length,
    };
  });
}

test("berthd killed mid-session: banner, stale data with its age, actions disabled; back by itself when berthd returns", async () => {
  const ctx = await newContext(browser, d);
  const p = await signIn(ctx, ["admin", ADMIN_PASSWORD], `#/instances/${name}`);
  const w = watchConsole(p, "outage");
  await p.locator(".live", { hasText: "live" }).waitFor();
  await p.locator(".page-head .badge[data-state=running]").waitFor();
  await p.getByTestId("usage-now").waitFor({ timeout: 30_000 });
  const before = await controls(p);
  assert.ok(before.enabled.length > 5, `controls are enabled: ${before.enabled}`);

  const killedAt = Date.now();
  await d.kill();
  const banner = p.locator(".banner-down[role=alert]").filter({ hasText: "berthd is unreachable" });
  await banner.waitFor({ timeout: 2000 });
  const shown = Date.now() - killedAt;
  console.log(`# outage banner shown ${shown} ms after berthd was killed`);
  assert.ok(shown <= 2000, `banner within 2 s (${shown} ms)`);
  // The data stays, marked stale, with its age going up.
  await p.locator(".page-head .badge[data-state=running]", { hasText: "(stale)" }).waitFor();
  assert.equal(await p.getByTestId("details-state").textContent(), "running", "the last data is kept");
  const note = p.getByTestId("stale-note");
  await note.waitFor();
  const age1 = await note.textContent();
  assert.match(age1, /^Stale: last updated .* \(\d+ s ago\)\.$/);
  await p.waitForTimeout(2200);
  assert.notEqual(await note.textContent(), age1, "the age counts up");
  assert.match(await banner.textContent(), /Trying again in \d+ s|Trying again…/);
  assert.match(await p.locator(".live").textContent(), /offline/);
  // Every action is disabled, with the reason attached.
  const during = await controls(p);
  assert.deepEqual(during.enabled.filter((x) => !/^Copy /.test(x)), [], "nothing but copying is left enabled in the page");
  const actions = before.enabled.filter((x) => !/^Copy /.test(x));
  assert.ok(during.disabledWithReason >= actions.length, `disabled with the reason: ${during.disabledWithReason} of ${JSON.stringify(actions)}`);
  const stop = p.locator(".page-head button[data-verb=stop]");
  assert.equal(await stop.isDisabled(), true);
  assert.match(await p.locator("#outage-reason").textContent(), /actions are disabled until berthd is back/);
  await shot(p, "30-outage");
  // Another page while it is down: a clear message, no exception.
  await p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Instances" }).click();
  await p.getByRole("heading", { name: "Could not load this page" }).waitFor();
  await p.getByText("berthd is unreachable; nothing was changed").waitFor();
  await shot(p, "31-outage-other-page");
  await p.waitForTimeout(3000); // a few retries with backoff

  await d.restart();
  const backAt = Date.now();
  await banner.waitFor({ state: "hidden", timeout: 30_000 });
  console.log(`# page recovered ${Date.now() - backAt} ms after berthd answered again`);
  // The page rendered itself again: the list, live, the actions back.
  await p.locator(`tr[data-instance="${name}"] .badge[data-state=running]`).waitFor();
  assert.equal(await p.locator(`tr[data-instance="${name}"] .badge`).textContent(), "running", "not stale any more");
  await p.locator(".live", { hasText: "● live" }).waitFor();
  assert.equal(await p.getByTestId("stale-note").isHidden(), true);
  assert.equal(await p.getByRole("button", { name: `stop ${name}` }).isEnabled(), true);
  // The stream is live again: a change made now shows without a reload.
  d.berth("suspend", name);
  await p.locator(`tr[data-instance="${name}"] .badge[data-state=suspended]`).waitFor({ timeout: 30_000 });
  d.berth("resume", name);
  await p.locator(`tr[data-instance="${name}"] .badge[data-state=running]`).waitFor({ timeout: 30_000 });
  await shot(p, "32-outage-recovered");

  // The browser's own network drops: the same banner with its reason, then back.
  await go(p, `#/instances/${name}`);
  await ctx.setOffline(true);
  await banner.filter({ hasText: "this browser is offline" }).waitFor({ timeout: 2000 });
  assert.match(await p.locator(".live").textContent(), /offline/, "not '● live' while the network is down");
  assert.equal(await p.locator(".page-head button[data-verb=stop]").isDisabled(), true);
  await ctx.setOffline(false);
  await banner.waitFor({ state: "hidden", timeout: 30_000 });
  await p.locator(".live", { hasText: "● live" }).waitFor();
  assert.equal(await p.locator(".page-head button[data-verb=stop]").isEnabled(), true);
  // No console error, no uncaught exception, the whole time.
  w.check();
  await ctx.close();
});

test("the outage banner and stale marks pass axe-core", async () => {
  const { axe } = await import("./lib/browser.mjs");
  const ctx = await newContext(browser, d);
  const p = await signIn(ctx, ["admin", ADMIN_PASSWORD], `#/instances/${name}`);
  await p.locator(".page-head .badge[data-state=running]").waitFor();
  await d.kill();
  try {
    await p.locator(".banner-down[role=alert]").filter({ hasText: "berthd is unreachable" }).waitFor({ timeout: 2000 });
    for (const theme of ["light", "dark"]) {
      await p.evaluate((t) => {
        localStorage.setItem("berth-theme", t);
        document.documentElement.dataset.theme = t;
      }, theme);
      await axe(p, `outage banner, ${theme}`);
      await shot(p, `axe-desktop-${theme}-outage`);
    }
  } finally {
    await d.restart();
    await ctx.close();
  }
  await until("berthd to answer", async () => (await fetch(`${d.url}/api/v1/auth/session`)).ok);
});
