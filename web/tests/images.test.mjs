// Issue 17, point 5: the image library page and cancelling an operation. A berthd with an image
// cache of its own (nothing built) builds debian/12 from the library page: the build's live
// progress shows (its messages change as mmdebstrap works), the catalogue says "building",
// and Cancel (after confirming) ends it as cancelled with nothing left in the cache. The shared
// cache's images, as another daemon lists them, show built with their size.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { ADMIN_PASSWORD, Daemon } from "./lib/daemon.mjs";
import { axe, go, launch, newContext, shot, signIn, until, watchConsole } from "./lib/browser.mjs";

let d;
let browser;

before(async () => {
  d = await Daemon.start({ index: 3, privateImages: true });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await d?.stop();
});

test("an image builds with live progress from the library page, and Cancel ends the build", async () => {
  const ctx = await newContext(browser, d);
  const p = await signIn(ctx, ["admin", ADMIN_PASSWORD], "#/images");
  const w = watchConsole(p, "images");
  const row = p.getByRole("row", { name: /debian\/12/ });
  await row.getByText("not built").waitFor();
  await axe(p, "images page");
  await row.getByRole("button", { name: "build debian/12" }).click();
  const progress = p.locator(".progress-box [data-image='debian/12']");
  await progress.waitFor();
  // The build's own messages come live, several different ones.
  const seen = new Set();
  await until("three build messages", async () => {
    const m = (await progress.locator(".op-message").textContent()).trim();
    if (m.startsWith("building debian/12")) seen.add(m);
    return seen.size >= 3;
  }, 180_000);
  console.log(`# build progress messages seen: ${[...seen].slice(0, 5).join(" | ")}`);
  await row.locator(".badge", { hasText: "building" }).waitFor();
  await shot(p, "33-image-building");
  // Cancel, after confirming.
  await progress.getByRole("button", { name: /^Cancel build of debian\/12/ }).click();
  await p.getByRole("dialog").getByRole("button", { name: "cancel it" }).click();
  await progress.getByText(/^Cancelled/).waitFor({ timeout: 120_000 });
  const ops = await d.api("GET", "/operations");
  const build = ops.find((o) => o.kind === "image_build");
  assert.equal(build.status, "cancelled", JSON.stringify(build));
  await row.getByText("not built").waitFor();
  // Nothing built is left in the cache.
  const cache = `${d.dataDir}/images`;
  // (The half-built tree is removed in the background: give it a moment.)
  const left = () => (existsSync(cache) ? readdirSync(cache, { recursive: true }).filter((f) => /rootfs|\.tar/.test(String(f))) : []);
  await until("the cancelled build's files to go", () => left().length === 0, 60_000).catch(() => {});
  assert.deepEqual(left(), [], "the cancelled build left nothing");
  // The operation, with its steps and outcome, in the page's list.
  const item = p.locator("li.op-cancelled").first();
  await item.locator("summary").click();
  await item.locator(".steps li").first().waitFor();
  await shot(p, "34-image-cancelled");
  w.check();
  await ctx.close();
});

test("the shared cache's images show as built with their size; a user sees the library without actions", async () => {
  const shared = await Daemon.start({ index: 4 });
  try {
    shared.berth("image", "build", "debian/12"); // a no-op when cached
    await shared.api("POST", "/users", { username: "dora", password: "Rope-And-Anchor-26" });
    const ctx = await newContext(browser, shared);
    const admin = await signIn(ctx, ["admin", ADMIN_PASSWORD], "#/images");
    // The shared cache may hold debian/12 for more than one architecture: take a cached row.
    const row = admin.getByRole("row", { name: /debian\/12/ }).filter({ hasText: "cached" }).first();
    await row.getByText("cached").waitFor();
    assert.match(await row.textContent(), /\d+ MiB/);
    await row.getByRole("button", { name: "rebuild debian/12" }).waitFor();
    await row.getByRole("button", { name: "delete debian/12" }).waitFor();
    await admin.getByText(/No application images/).waitFor();
    await shot(admin, "35-images");
    await ctx.close();
    const user = await signIn(await newContext(browser, shared), ["dora", "Rope-And-Anchor-26"], "#/images");
    await user.getByRole("row", { name: /debian\/12/ }).filter({ hasText: "cached" }).first().getByText("cached").waitFor();
    assert.equal(await user.getByRole("button", { name: /build|delete/ }).count(), 0);
    await user.context().close();
  } finally {
    await shared.stop();
  }
});
