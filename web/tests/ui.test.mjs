// The web UI in Debian's Chromium (headless, playwright-core, no downloaded browser) against a
// real berthd with the builtin runtime: sign in, create with the wizard and watch the progress
// reach 100 %, stop and start, type in the console, change the root password, add a port
// forward (and log in over SSH through it), remove it, see a chart, and check that another
// user never sees the instance. Every page is saved as a screenshot (desktop and phone) in
// web/test-artifacts/ (or $BERTH_WEB_ARTIFACTS).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { ADMIN_PASSWORD, Daemon, freePort } from "./lib/daemon.mjs";

const CHROMIUM = process.env.BERTH_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = process.env.BERTH_WEB_ARTIFACTS ?? fileURLToPath(new URL("../test-artifacts", import.meta.url));
const ALICE = ["alice", "Sails-Set-At-Dawn-26"];
const BOB = ["bob", "Oars-And-Rudder-26"];
const NEW_ROOT_PASSWORD = "Tide-Turns-At-Nine-41";
const NEW_ALICE_PASSWORD = "Harbour-Lights-Blink-7";

let d;
let browser;
let page; // alice, desktop
let name;

async function shot(p, file) {
  await p.waitForTimeout(250);
  await p.screenshot({ path: path.join(ARTIFACTS, `${file}.png`), fullPage: true });
}

async function signIn(context, [user, password]) {
  const p = await context.newPage();
  p.on("pageerror", (e) => console.error(`page error (${user}):`, e.message));
  await p.goto(d.url);
  await p.getByLabel("Username").fill(user);
  await p.getByLabel("Password").fill(password);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("heading", { name: "Dashboard" }).waitFor();
  return p;
}

async function go(p, hash) {
  await p.goto(`${d.url}/${hash}`);
  await p.locator("main h1").first().waitFor();
  await p.waitForLoadState("networkidle");
}

const stateBadge = () => page.locator(".page-head h1 .badge");

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  d = await Daemon.start();
  name = `${d.id}-web`;
  d.berth("image", "build", "debian/12"); // a no-op when cached
  await d.api("POST", "/users", { username: ALICE[0], password: ALICE[1], quota: { instances: 3, memory: 4 * 1024 ** 3, cpu: 2 } });
  await d.api("POST", "/users", { username: BOB[0], password: BOB[1] });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
});

after(async () => {
  await browser?.close();
  await d?.stop();
});

test("a wrong password is refused with a message; the right one opens the dashboard", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const p = await context.newPage();
  const t0 = Date.now();
  await p.goto(d.url);
  await p.getByLabel("Username").waitFor();
  const nav = await p.evaluate(() => performance.getEntriesByType("navigation")[0].toJSON());
  console.log(`# UI load: login form shown ${Date.now() - t0} ms after goto; DOMContentLoaded ${Math.round(nav.domContentLoadedEventEnd)} ms, load ${Math.round(nav.loadEventEnd)} ms, ${nav.transferSize} bytes transferred for the document`);
  await shot(p, "01-login");
  await p.getByLabel("Username").fill(ALICE[0]);
  await p.getByLabel("Password").fill("not-the-password");
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("alert").filter({ hasText: /username or password/i }).waitFor();
  await p.getByLabel("Password").fill(ALICE[1]);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("heading", { name: "Dashboard" }).waitFor();
  await context.close();
  page = await signIn(await browser.newContext({ viewport: { width: 1280, height: 860 } }), ALICE);
  await shot(page, "02-dashboard");
});

test("the wizard creates an instance and its progress reaches 100 %", async () => {
  await go(page, "#/create");
  await page.getByText("debian/12").first().waitFor();
  assert.match(await page.getByLabel("Name").inputValue(), /^[a-z]+-[a-z]+-\d\d$/, "a generated name");
  await page.getByText("of 4 GiB left in your quota").waitFor(); // the memory quota, from /auth/me
  await shot(page, "03-create");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Memory (MiB)").fill("512");
  await page.getByLabel("Disk (GiB)").fill("3");
  await page.getByLabel("CPU (cores)").fill("1");
  await page.getByLabel("WireGuard config for the guest (optional, wg-quick format)").fill("[Interface]\nPrivateKey = nope\n");
  await page.getByText(/line 2: PrivateKey is not a WireGuard key/).waitFor(); // inline validation
  await page.getByLabel("WireGuard config for the guest (optional, wg-quick format)").fill("");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.locator(".pct", { hasText: "100 %" }).waitFor({ timeout: 600_000 });
  await page.getByText(`${name} is ready.`).waitFor();
  const steps = await page.locator(".steps li").allTextContents();
  assert.ok(steps.length >= 3 && steps.every((s) => s.startsWith("done")), `every step done: ${steps.join(" | ")}`);
  assert.ok((await page.getByTestId("generated-password").textContent()).length >= 12, "the generated password is shown once");
  await shot(page, "04-create-progress");
  await page.getByRole("link", { name: `Open ${name}` }).click();
  await page.locator(".page-head h1", { hasText: name }).waitFor();
  await stateBadge().filter({ hasText: "running" }).waitFor();
  await shot(page, "05-instance-overview");
});

test("stop (after confirming) and start again", async () => {
  await page.locator(".page-head button[data-verb=stop]").click();
  const dialog = page.getByRole("dialog");
  await dialog.getByText("The guest is shut down").waitFor();
  await dialog.getByRole("button", { name: "stop" }).click();
  await stateBadge().filter({ hasText: "stopped" }).waitFor({ timeout: 120_000 });
  await page.locator(".page-head button[data-verb=start]").click();
  await stateBadge().filter({ hasText: "running" }).waitFor({ timeout: 120_000 });
  const info = JSON.parse(d.berth("info", name, "--format", "json"));
  assert.equal(info.state, "running");
});

test("suspend and resume from the instance list's quick actions", async () => {
  await go(page, "#/instances");
  const row = page.getByRole("row", { name: new RegExp(name) });
  await row.getByRole("button", { name: `suspend ${name}` }).click();
  await row.locator(".badge", { hasText: "suspended" }).waitFor({ timeout: 60_000 });
  await row.getByRole("button", { name: `resume ${name}` }).click();
  await row.locator(".badge", { hasText: "running" }).waitFor({ timeout: 60_000 });
});

test("the console runs a typed command", async () => {
  await go(page, `#/instances/${name}/console`);
  await page.getByText(`Connected to ${name}`).waitFor({ timeout: 30_000 });
  await page.locator(".xterm-rows", { hasText: `root@${name}` }).waitFor({ timeout: 30_000 }); // the prompt
  await page.locator(".console-screen").click();
  await page.keyboard.type("echo ui-$((6*7)) && hostname\n", { delay: 15 });
  await page.locator(".xterm-rows", { hasText: "ui-42" }).waitFor({ timeout: 30_000 });
  await page.locator(".xterm-rows", { hasText: name }).waitFor();
  await shot(page, "06-instance-console");
});

test("the root password changes, and SSH through a new port forward takes it; the forward is removed", async () => {
  await go(page, `#/instances/${name}`);
  await page.getByLabel("New root password").fill(NEW_ROOT_PASSWORD);
  await page.getByRole("button", { name: "Set password" }).click();
  await page.getByText("Root password changed.").waitFor();

  const port = await freePort();
  await go(page, `#/instances/${name}/forwards`);
  await page.getByLabel("Host [address:]port").fill(`127.0.0.1:${port}`);
  await page.getByLabel("Guest port").fill("22");
  await page.getByRole("button", { name: "Add forward" }).click();
  await page.getByRole("cell", { name: `127.0.0.1:${port}`, exact: true }).waitFor();
  await shot(page, "07-instance-forwards");
  const ssh = spawnSync(
    "timeout",
    ["60", "sshpass", "-e", "ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
      "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1", "-p", String(port), "root@127.0.0.1", "hostname"],
    { encoding: "utf8", env: { ...process.env, SSHPASS: NEW_ROOT_PASSWORD } },
  );
  assert.equal(ssh.stdout.trim(), name, `ssh with the new password through the forward: ${ssh.stderr}`);

  await page.getByRole("button", { name: `remove forward 127.0.0.1:${port} of ${name}` }).click();
  await page.getByRole("dialog").getByRole("button", { name: "remove" }).click();
  await page.getByText("No port forwards.").waitFor();
  const forwards = await d.api("GET", `/instances/${name}/forwards`);
  assert.deepEqual(forwards, []);
});

test("the charts show data", async (t) => {
  await go(page, `#/instances/${name}/charts`);
  await page.locator(".charts > *").first().waitFor();
  if (await page.getByText("Charts: not available").isVisible()) {
    await shot(page, "08-instance-charts");
    t.skip("this berthd has no GET /instances/{name}/metrics yet (the metrics helper's branch adds it)");
    return;
  }
  const deadline = Date.now() + 120_000;
  let points = 0;
  while (Date.now() < deadline) {
    points = Number(await page.locator("[data-points]").getAttribute("data-points"));
    if (points > 0) break;
    await page.waitForTimeout(5000);
    await page.getByRole("radio", { name: "hour" }).click();
  }
  assert.ok(points > 0, "at least one point with data within two minutes");
  assert.equal(await page.locator(".chart canvas").count(), 4, "four charts: CPU, memory, disk, network");
  await shot(page, "08-instance-charts");
});

test("limits and autostart are saved live", async () => {
  await go(page, `#/instances/${name}`);
  await page.getByLabel("Memory (MiB)").fill("768");
  await page.getByLabel("Start when the host boots (autostart)").check();
  await page.getByRole("button", { name: "Save limits" }).click();
  await page.getByText("Limits saved").or(page.locator(".limits-form .error:not(:empty)")).first().waitFor();
  assert.equal(await page.locator(".limits-form .error").textContent(), "", "saving limits failed");
  const info = JSON.parse(d.berth("info", name, "--format", "json"));
  assert.equal(info.limits.memory, 768 * 1024 ** 2);
  assert.equal(info.autostart, true);
  // Past the owner's quota (4 GiB): refused, the message under the form, nothing changed.
  await page.getByLabel("Memory (MiB)").fill("8192");
  await page.getByRole("button", { name: "Save limits" }).click();
  await page.locator(".limits-form .error", { hasText: /quota/i }).waitFor();
  assert.equal(JSON.parse(d.berth("info", name, "--format", "json")).limits.memory, 768 * 1024 ** 2);
});

test("a snapshot is taken, restored (the guest runs again) and deleted; a backup is made and offered for download", async () => {
  await go(page, `#/instances/${name}/snapshots`);
  await page.getByLabel("Snapshot name (optional)").fill("ui-snap");
  await page.getByRole("button", { name: "Take snapshot" }).click();
  await page.getByRole("cell", { name: "ui-snap", exact: true }).waitFor({ timeout: 120_000 });
  await shot(page, "09-instance-snapshots");
  await page.getByRole("row", { name: /ui-snap/ }).getByRole("button", { name: "restore" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "restore" }).click();
  await page.getByText("Restore ui-snap: done").waitFor({ timeout: 180_000 });
  await stateBadge().filter({ hasText: "running" }).waitFor({ timeout: 60_000 });
  await page.getByRole("row", { name: /ui-snap/ }).getByRole("button", { name: "delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "delete" }).click();
  await page.getByText("No snapshots yet.").waitFor();

  await go(page, `#/instances/${name}/backups`);
  await page.getByRole("button", { name: "Create backup" }).click();
  const link = page.getByRole("link", { name: "download" });
  await link.waitFor({ timeout: 300_000 });
  const href = await link.getAttribute("href");
  const r = await page.request.get(`${d.url}${href}`);
  assert.equal(r.status(), 200, "the export link works with the session cookie");
  assert.ok((await r.body()).length > 1_000_000, "a real archive");
  await shot(page, "10-instance-backups");
});

test("API tokens and my password from the account page", async () => {
  await go(page, "#/settings/account");
  await page.getByLabel("Token name").fill("ci");
  await page.getByLabel("Scope").selectOption("read_only");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.locator(".secret code").textContent()).trim();
  assert.match(secret, /^berth_[0-9a-f]{32}_/);
  const list = await page.request.get(`${d.url}/api/v1/instances`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(list.status(), 200, "the new token works");
  await page.getByRole("row", { name: /ci/ }).getByRole("button", { name: "revoke" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "revoke" }).click();
  await page.getByText("No API tokens.").waitFor();
  const after = await page.request.get(`${d.url}/api/v1/instances`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(after.status(), 401, "the revoked token does not");

  await page.getByLabel("Current password").fill("wrong-password-1");
  await page.getByLabel("New password", { exact: true }).fill(NEW_ALICE_PASSWORD);
  await page.getByLabel("Repeat the new password").fill(NEW_ALICE_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await page.locator("[aria-invalid=true]").first().waitFor(); // refused, shown at the field
  await page.getByLabel("Current password").fill(ALICE[1]);
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByText("Password changed").waitFor();
  ALICE[1] = NEW_ALICE_PASSWORD;
});

test("the session renews itself when the 15-minute access cookie is gone", async () => {
  const context = page.context();
  await context.clearCookies({ name: "berth_session" });
  await page.reload();
  await page.locator("main h1", { hasText: "Settings" }).waitFor(); // not the login page
  assert.ok((await context.cookies()).some((c) => c.name === "berth_session"), "a new access cookie");
});

test("every other page renders (desktop and phone screenshots)", async () => {
  for (const [file, hash] of [
    ["11-instance-activity", `#/instances/${name}/activity`],
    ["12-instances", "#/instances"],
    ["13-network", "#/network"],
    ["14-settings-system", "#/settings"],
    ["15-settings-account", "#/settings/account"],
    ["16-settings-defaults", "#/settings/defaults"],
    ["17-settings-audit", "#/settings/audit"],
  ]) {
    await go(page, hash);
    await shot(page, file);
  }
  await page.getByRole("cell", { name: "instance.create" }).first().waitFor(); // alice's own audit entries
  const phone = await signIn(await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }), ALICE);
  for (const [file, hash] of [
    ["phone-dashboard", "#/"],
    ["phone-instances", "#/instances"],
    ["phone-create", "#/create"],
    ["phone-instance", `#/instances/${name}`],
    ["phone-console", `#/instances/${name}/console`],
    ["phone-network", "#/network"],
  ]) {
    await go(phone, hash);
    if (hash.endsWith("/console")) await phone.getByText(`Connected to ${name}`).waitFor({ timeout: 30_000 });
    await shot(phone, file);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${hash} fits a 390 px wide phone (overflows by ${overflow} px)`);
  }
  await phone.context().close();
});

test("accessibility: skip link, keyboard navigation, visible focus, text contrast, labels", async () => {
  await go(page, "#/instances");
  await page.reload(); // a fresh load: focus starts at the top of the document
  await page.locator("main h1").waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Dashboard");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none", "the focused link shows an outline");
  // Text contrast (WCAG AA, 4.5:1) of the kinds of text there are, on their real backgrounds.
  const ratios = await page.evaluate(() => {
    const rgb = (c) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const bg = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const out = {};
    for (const sel of ["main h1", "th", "td", ".badge", "a", ".button.primary", ".live", ".who .muted", "button.danger"]) {
      const el = document.querySelector(sel);
      if (!el) continue;
      const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(bg(el))];
      out[sel] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }
    return out;
  });
  assert.ok(Object.keys(ratios).length >= 7, JSON.stringify(ratios));
  for (const [sel, r] of Object.entries(ratios)) assert.ok(r >= 4.5, `${sel}: contrast ${r.toFixed(2)}:1 is below 4.5:1`);
  // Every form control on the create page has a label.
  await go(page, "#/create");
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("main input, main select, main textarea")]
      .filter((el) => !(el.labels?.length || el.getAttribute("aria-label")))
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  assert.deepEqual(unlabelled, []);
});

test("alert rules: a user adds one of her own, a bad threshold is shown at its field", async () => {
  await go(page, "#/settings/alerts");
  await page.getByText("Add a rule").click();
  await page.getByLabel("Rule name").fill("web busy");
  await page.getByLabel("Metric").selectOption("cpu_percent");
  await page.getByLabel("Threshold").fill("250");
  await page.getByLabel("Scope").selectOption("instance");
  await page.getByLabel("Instance or user").fill(name);
  await page.getByRole("button", { name: "Add rule" }).click();
  await page.locator("input[name=threshold][aria-invalid=true]").waitFor();
  const alices = async () => (await d.api("GET", "/alerts/rules")).filter((r) => r.owner === ALICE[0]);
  assert.equal((await alices()).length, 0, "bad input changed nothing");
  await page.getByLabel("Threshold").fill("80");
  await page.getByRole("button", { name: "Add rule" }).click();
  await page.getByRole("row", { name: /web busy/ }).getByRole("cell", { name: `instance ${name}` }).waitFor();
  await shot(page, "26-alert-rule");
  const rules = await alices();
  assert.deepEqual(rules.map((r) => [r.name, r.threshold, r.owner, r.scope.value]), [["web busy", 80, "alice", name]]);
  await page.getByRole("button", { name: "Delete rule web busy" }).click();
  await page.getByText("No rules.").waitFor();
});

test("a create that fails shows the failed step and its reason", async () => {
  // A second daemon whose create operations fail at the configure step.
  const f = await Daemon.start({ index: 1, env: { BERTH_FAILPOINTS: "instance_create.configure=error" } });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  try {
    const p = await ctx.newPage();
    await p.goto(f.url);
    await p.getByLabel("Username").fill("admin");
    await p.getByLabel("Password").fill(ADMIN_PASSWORD);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("heading", { name: "Dashboard" }).waitFor();
    await p.goto(`${f.url}/#/create`);
    await p.getByLabel("Name").fill(`${f.id}-bad`);
    await p.getByLabel("Disk (GiB)").fill("2");
    await p.getByRole("button", { name: "Create", exact: true }).click();
    await p.getByText(`Creating ${f.id}-bad failed at step "configure":`).waitFor({ timeout: 300_000 });
    const reason = await p.locator(".progress-box .error").textContent();
    assert.match(reason, /configure|failpoint|injected/i, reason);
    await p.locator(".step-failed", { hasText: "configure" }).waitFor();
    await shot(p, "25-create-failure");
    assert.deepEqual(JSON.parse(f.berth("list", "--format", "json")), [], "the failed create left nothing behind");
  } finally {
    await ctx.close();
    await f.stop();
  }
});

test("another user never sees the instance; an admin sees it with its owner", async () => {
  const bob = await signIn(await browser.newContext({ viewport: { width: 1280, height: 860 } }), BOB);
  await go(bob, "#/instances");
  await bob.getByText("No instances yet").waitFor();
  assert.equal(await bob.getByText(name).count(), 0);
  await go(bob, `#/instances/${name}`);
  await bob.getByRole("heading", { name: "Not found" }).waitFor();
  const r = await bob.request.get(`${d.url}/api/v1/instances/${name}`);
  assert.equal(r.status(), 404);
  await shot(bob, "18-other-user-instances");
  await bob.context().close();

  const admin = await signIn(await browser.newContext({ viewport: { width: 1280, height: 860 } }), ["admin", ADMIN_PASSWORD]);
  // The IPv6 uplink form: a mode's own fields, and a bad prefix is refused at its field.
  await go(admin, "#/network");
  await admin.getByLabel("Mode").selectOption("native");
  await admin.getByLabel("Routed prefix").fill("not-a-prefix");
  await admin.getByRole("button", { name: "Apply" }).click();
  await admin.locator("input[name=prefix][aria-invalid=true]").waitFor();
  assert.equal((await d.api("GET", "/network")).ipv6_uplink.mode, "none", "bad input changed nothing");
  // Forwards from the Network page, with the instance picker.
  const port = await freePort();
  await admin.getByLabel("Instance").selectOption(name);
  await admin.getByLabel("Host [address:]port").fill(`127.0.0.1:${port}`);
  await admin.getByRole("button", { name: "Add forward" }).click();
  const fwRow = admin.getByRole("row", { name: new RegExp(`127\\.0\\.0\\.1:${port}`) });
  await fwRow.getByRole("cell", { name: name, exact: true }).waitFor();
  await shot(admin, "21-admin-network");
  await fwRow.getByRole("button", { name: /remove forward/ }).click();
  await admin.getByRole("dialog").getByRole("button", { name: "remove" }).click();
  await admin.getByText("No port forwards.").waitFor();
  const audit = await d.api("GET", "/audit?actor=alice&limit=200");
  const consoleEntry = audit.find((e) => e.action === "instance.console");
  assert.equal(consoleEntry?.result, "success", "an opened console is audited as a success");
  await go(admin, "#/instances");
  const row = admin.getByRole("row", { name: new RegExp(name) });
  await row.getByRole("cell", { name: "alice", exact: true }).waitFor();
  await shot(admin, "19-admin-instances");
  for (const [file, hash] of [
    ["20-admin-dashboard", "#/"],
    ["22-admin-users", "#/settings/users"],
    ["23-admin-alerts", "#/settings/alerts"],
    ["24-admin-audit", "#/settings/audit"],
  ]) {
    await go(admin, hash);
    await shot(admin, file);
  }
  await admin.context().close();
});
