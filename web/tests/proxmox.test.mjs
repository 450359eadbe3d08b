// Issue 17, point 2, for a remote backend: a Proxmox VE node that stops answering (the
// project's PVE double, hung with SIGSTOP: connections are accepted and never answered) while
// berthd itself is fine. The page says which backend is unreachable in a banner of its own,
// marks that backend's instances stale row by row (the local ones stay live), and clears both
// by itself when the node answers again. The test fails on any console error.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, Daemon } from "./lib/daemon.mjs";
import { PveDouble } from "./lib/pve.mjs";
import { axe, launch, newContext, shot, signIn, watchConsole } from "./lib/browser.mjs";

let d;
let pve;
let browser;
let name;

before(async () => {
  pve = await PveDouble.start();
  d = await Daemon.start({ index: 3, env: pve.env() });
  name = `${d.id}-pve`;
  d.berth("launch", "debian/12", name, "--backend", "proxmox", "--memory", "512MiB");
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await pve?.resume();
  await d?.stop();
  await pve?.stop();
});

test("a hung Proxmox node: its own banner and stale rows, berthd's pages stay live; back by itself", async () => {
  const ctx = await newContext(browser, d);
  const p = await signIn(ctx, ["admin", ADMIN_PASSWORD], "#/instances");
  const w = watchConsole(p, "pve outage");
  const row = p.locator(`tr[data-instance="${name}"]`);
  await row.locator(".badge[data-state=running]").waitFor({ timeout: 30_000 });
  const banner = p.locator(".banner-remote");
  assert.equal(await banner.isHidden(), true, "no remote banner while the node answers");

  pve.hang();
  const hungAt = Date.now();
  try {
    // Nothing is clicked: the page reads remote rows again by itself (every 10 s), and berthd
    // answers from its cache, marked stale.
    await row.locator(".badge-stale", { hasText: "(stale)" }).waitFor({ timeout: 30_000 });
    console.log(`# stale row shown ${Date.now() - hungAt} ms after the node hung`);
    await banner.filter({ hasText: "proxmox is unreachable" }).waitFor();
    assert.match(await banner.textContent(), /1 instance shows its last known state \(marked stale\)/);
    assert.match(await row.locator(".badge").getAttribute("title"), /proxmox is unreachable: this is the last known state/);
    // berthd itself is reachable: no daemon outage banner, the stream stays live.
    assert.equal(await p.locator(".banner-down").isHidden(), true, "berthd is not reported down");
    await p.locator(".live", { hasText: "● live" }).waitFor();
    await shot(p, "36-proxmox-unreachable");
    for (const theme of ["light", "dark"]) {
      await p.evaluate((t) => {
        localStorage.setItem("berth-theme", t);
        document.documentElement.dataset.theme = t;
      }, theme);
      await axe(p, `remote outage banner, ${theme}`);
    }
  } finally {
    pve.resume();
  }
  const backAt = Date.now();
  await row.locator(".badge[data-state=running]:not(.badge-stale)").waitFor({ timeout: 30_000 });
  await banner.waitFor({ state: "hidden", timeout: 30_000 });
  console.log(`# remote banner gone ${Date.now() - backAt} ms after the node answered again`);
  assert.equal(await row.locator(".badge").textContent(), "running");
  w.check();
  await ctx.close();
});
