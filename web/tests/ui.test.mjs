// The web UI in Debian's Chromium (headless, playwright-core, no downloaded browser) against a
// real berthd with the builtin runtime and real guests. Each numbered point of issue 17 has its
// assertions here (the outage in outage.test.mjs, the image library in images.test.mjs):
//  1. one store: state changed by the UI, the CLI, the API and `poweroff` inside the guest shows
//     the same in every view;
//  3. alert card and history show rule names, times and per-channel delivery; sizes in units;
//     each error once, at its field;
//  4. client checks come from the OpenAPI rules; limits bounded by the host and the quota;
//  5. restore and import (upload with progress), schedules, alert edit/disable/confirm, search,
//     sort, filter, usage and uptime, operations and audit entries, copy buttons;
//  6. polish: the Create link from the result screen, theme-coloured charts with round ticks
//     and current values, narrow tab strips, favicon, no console error on a cold load.
// Every page is run through axe-core in both themes and both widths, and saved as a screenshot
// in web/test-artifacts/ (or $BERTH_WEB_ARTIFACTS).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { ADMIN_PASSWORD, Daemon, freePort } from "./lib/daemon.mjs";
import { axe, DESKTOP, go, launch, newContext, PHONE, shot, signIn, until, watchConsole } from "./lib/browser.mjs";

const ALICE = ["alice", "Sails-Set-At-Dawn-26"];
const BOB = ["bob", "Oars-And-Rudder-26"];
const CAROL = ["carol", "Keel-And-Compass-26"];
const NEW_ROOT_PASSWORD = "Tide-Turns-At-Nine-41";
const NEW_ALICE_PASSWORD = "Harbour-Lights-Blink-7";
const OPENAPI = JSON.parse(readFileSync(fileURLToPath(new URL("../../openapi/berth.json", import.meta.url)), "utf8"));
const SCHEMAS = OPENAPI.components.schemas;
const MiB = 1024 ** 2;
/** Expected power buttons per state, as the instance page shows them. */
const VERBS = { running: ["stop", "restart", "suspend"], stopped: ["start", "delete"], suspended: ["resume", "stop"] };
/** Requests a browser logs as errors when the daemon refuses bad input on purpose. */
const REFUSED = (...codes) => codes.map((c) => new RegExp(`status of ${c}`));

let d;
let browser;
let page; // alice, desktop
let watch; // alice's console
let name;
let hooks; // webhook receiver
const hookBodies = [];

before(async () => {
  d = await Daemon.start();
  name = `${d.id}-web`;
  d.berth("image", "build", "debian/12"); // a no-op when cached
  await d.api("POST", "/users", { username: ALICE[0], password: ALICE[1], quota: { instances: 4, memory: 4 * 1024 ** 3, cpu: 4 } });
  await d.api("POST", "/users", { username: BOB[0], password: BOB[1] });
  await d.api("POST", "/users", { username: CAROL[0], password: CAROL[1], quota: { instances: 1, memory: 384 * MiB, cpu: 0.5, disk: 2 * 1024 ** 3 } });
  hooks = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      hookBodies.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => hooks.listen(0, "127.0.0.1", r));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  hooks?.close();
  await d?.stop();
});

test("a cold load shows the login form with no failed request and no console error; then sign in", async () => {
  const context = await newContext(browser, d);
  const p = await context.newPage();
  const w = watchConsole(p, "cold load");
  const bad = [];
  p.on("response", (r) => r.status() >= 400 && bad.push(`${r.status()} ${r.url()}`));
  p.on("requestfailed", (r) => bad.push(`failed ${r.url()}`));
  const t0 = Date.now();
  await p.goto("/");
  await p.getByLabel("Username").waitFor();
  const nav = await p.evaluate(() => performance.getEntriesByType("navigation")[0].toJSON());
  const scripts = await p.evaluate(() => performance.getEntriesByType("resource").filter((e) => e.initiatorType === "script" || e.name.endsWith(".js")).reduce((n, e) => n + e.transferSize, 0));
  console.log(`# UI cold load: login form ${Date.now() - t0} ms after goto; DOMContentLoaded ${Math.round(nav.domContentLoadedEventEnd)} ms, load ${Math.round(nav.loadEventEnd)} ms; scripts ${scripts} bytes transferred`);
  await p.waitForLoadState("networkidle");
  assert.deepEqual(bad, [], "no request failed or was refused (the session probe never answers 401)");
  w.check();
  // The favicon is in the page (a data: URL: nothing to fetch, so never a failed request).
  const icon = await p.locator("link[rel=icon]").getAttribute("href");
  assert.match(icon, /^data:image\/svg\+xml,%3Csvg/);
  await shot(p, "01-login");
  await p.getByLabel("Username").fill(ALICE[0]);
  await p.getByLabel("Password").fill("not-the-password");
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("alert").filter({ hasText: /username or password/i }).waitFor();
  await p.getByLabel("Password").fill(ALICE[1]);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("heading", { name: "Dashboard" }).waitFor();
  w.check(REFUSED(401)); // the wrong password, on purpose
  await context.close();
  const ctx = await newContext(browser, d);
  await ctx.grantPermissions(["clipboard-read", "clipboard-write"]);
  page = await signIn(ctx, ALICE);
  watch = watchConsole(page, "alice");
  await shot(page, "02-dashboard");
});

test("the wizard creates an instance with live progress; the password copies; Create works from the result screen", async () => {
  await go(page, "#/create");
  await page.getByText("debian/12").first().waitFor();
  assert.match(await page.getByLabel("Name").inputValue(), /^[a-z]+-[a-z]+-\d\d$/, "a generated name");
  await page.getByText("of 4 GiB left in your quota").waitFor(); // the memory quota, from /auth/me
  await page.getByText("4 of 4 instances left in your quota.").waitFor();
  await shot(page, "03-create");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Memory (MiB)").fill("512");
  await page.getByLabel("Disk (GiB)").fill("3");
  await page.getByLabel("CPU (cores)").fill("1");
  await page.getByLabel("WireGuard config for the guest (optional, wg-quick format)").fill("[Interface]\nPrivateKey = nope\n");
  await page.getByText(/line 2: PrivateKey is not a WireGuard key/i).waitFor(); // inline validation
  await page.getByLabel("WireGuard config for the guest (optional, wg-quick format)").fill("");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.locator(".pct", { hasText: "100 %" }).waitFor({ timeout: 600_000 });
  await page.getByText(`${name} is ready.`).waitFor();
  const steps = await page.locator(".progress-box .steps li").allTextContents();
  assert.ok(steps.length >= 3 && steps.every((s) => s.startsWith("done")), `every step done: ${steps.join(" | ")}`);
  const secret = (await page.getByTestId("generated-password").textContent()).trim();
  assert.ok(secret.length >= 12, "the generated password is shown once");
  await page.getByRole("button", { name: "Copy the root password" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, "the copy button copies it");
  await shot(page, "04-create-progress");
  // The Create link in the navigation starts a new wizard from the result screen.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Create" }).click();
  await page.getByLabel("Name").waitFor();
  assert.notEqual(await page.getByLabel("Name").inputValue(), name);
  await page.getByText("3 of 4 instances left in your quota.").waitFor();
  await go(page, `#/instances/${name}`);
  await page.locator(".page-head .badge[data-state=running]").waitFor();
  await shot(page, "05-instance-overview");
});

/** Asserts that every view of the instance shows `state`: the instance page's header badge,
 *  details and power buttons; the list's row; the dashboard's count; and the API. */
async function agree(views, state) {
  const [inst, list, dash] = views;
  await inst.locator(`.page-head .badge[data-state=${state}]`).waitFor({ timeout: 90_000 });
  await until(`details say ${state}`, async () => (await inst.getByTestId("details-state").textContent()) === state);
  const verbs = () => inst.locator(".page-head [data-verb]").evaluateAll((bs) => bs.map((b) => b.dataset.verb).join());
  await until(`the power buttons for ${state}`, async () => (await verbs()) === VERBS[state].join());
  await list.locator(`tr[data-instance="${name}"] .badge[data-state=${state}]`).waitFor({ timeout: 10_000 });
  await until(`the dashboard counts ${state}`, async () => (await dash.locator(`[data-state-count=${state}]`).count()) === 1);
  const others = await dash.locator("[data-state-count]").evaluateAll((li) => li.map((x) => x.dataset.stateCount));
  assert.ok(others.every((s) => s === state), `the dashboard counts only ${state}: ${others}`);
  assert.equal((await d.api("GET", `/instances/${name}`)).state, state, "the API agrees");
  // The state comes in the event; the start time with the instance read right after it.
  const uptime = () => inst.locator('[data-fact="Uptime"]').textContent();
  if (state === "running") await until("the uptime", async () => /^\d+ (s|min)/.test(await uptime()), 10_000);
  else assert.equal(await uptime(), "—");
}

test("one store: the UI, the CLI, the API and a poweroff in the guest change the state and every view agrees", async () => {
  const ctx = page.context();
  const inst = page;
  const list = await ctx.newPage();
  const dash = await ctx.newPage();
  const views = [inst, list, dash];
  await go(list, "#/instances");
  await go(dash, "#/");
  await go(inst, `#/instances/${name}`);
  await agree(views, "running");
  // The UI: Stop (after confirming).
  await inst.locator(".page-head button[data-verb=stop]").click();
  await inst.getByRole("dialog").getByText("The guest is shut down").waitFor();
  await inst.getByRole("dialog").getByRole("button", { name: "stop" }).click();
  await agree(views, "stopped");
  // The CLI.
  d.berth("start", name);
  await agree(views, "running");
  // The API.
  await d.api("POST", `/instances/${name}/suspend`, {});
  await until("the suspend to end", async () => (await d.api("GET", `/instances/${name}`)).state === "suspended", 60_000);
  await agree(views, "suspended");
  await d.api("POST", `/instances/${name}/resume`, {});
  await agree(views, "running");
  // Inside the guest: poweroff. berthd notices at its next metrics tick and tells everyone.
  spawnSync(d.berthBin, ["--socket", d.socket, "exec", name, "--", "systemctl", "is-system-running", "--wait"], { timeout: 90_000 });
  spawnSync(d.berthBin, ["--socket", d.socket, "exec", name, "--", "systemctl", "poweroff"], { timeout: 30_000 });
  await agree(views, "stopped");
  // The list's quick action starts it again.
  await list.getByRole("button", { name: `start ${name}` }).click();
  await agree(views, "running");
  // Limits changed with the CLI show in the details, the form and the list at once.
  d.berth("set", name, "--memory", "640MiB");
  await inst.locator('[data-fact="Limits"]', { hasText: "640 MiB memory" }).waitFor();
  assert.equal(await inst.getByLabel("Memory (MiB)").inputValue(), "640");
  await inst.getByText("now 640 MiB").waitFor();
  await list.locator(`tr[data-instance="${name}"]`, { hasText: "640 MiB" }).waitFor();
  await shot(list, "12-instances");
  await list.close();
  await dash.close();
  watch.check();
});

test("usage now and uptime show on the overview", async () => {
  await go(page, `#/instances/${name}`);
  const usage = page.getByTestId("usage-now");
  await usage.waitFor({ timeout: 30_000 });
  for (const bar of ["CPU", "Memory", "Disk"]) await usage.getByRole("progressbar", { name: bar }).waitFor();
  const memory = await usage.getByRole("progressbar", { name: "Memory" }).getAttribute("aria-valuetext");
  assert.match(memory, /^\d+(\.\d)? (KiB|MiB) of 640 MiB$/, memory);
  assert.match(await usage.textContent(), /Network: .* in, .* out/);
  const first = await page.locator('[data-fact="Uptime"]').textContent();
  await page.waitForTimeout(2100);
  assert.notEqual(await page.locator('[data-fact="Uptime"]').textContent(), first, "the uptime counts on");
});

test("checks come from the OpenAPI rules: a memory below the schema's minimum is refused before any request; past the host; past the quota once, at the field, in units", async () => {
  await go(page, `#/instances/${name}`);
  const memory = page.getByLabel("Memory (MiB)");
  const min = SCHEMAS.Limits.properties.memory.minimum / MiB;
  assert.equal(await memory.getAttribute("min"), String(min), "the input's minimum is the schema's");
  const host = (await d.api("GET", "/system")).memory;
  assert.equal(Number(await memory.getAttribute("max")), Math.floor((host / MiB) * 100) / 100, "the input's maximum is the host's memory");
  const patches = [];
  page.on("request", (r) => r.method() === "PATCH" && patches.push(r.url()));
  await memory.fill("16");
  await page.getByRole("button", { name: "Save limits" }).click();
  await page.locator("input[name=memory][aria-invalid=true]").waitFor();
  assert.equal(await page.locator(`#${await memory.getAttribute("id")}-err`).textContent(), `16 MiB is too little; give at least ${min} MiB`);
  assert.deepEqual(patches, [], "nothing was sent");
  await memory.fill(String(Math.ceil(host / MiB) + 1024));
  await page.locator("input[name=memory][aria-invalid=true]").waitFor();
  assert.match(await page.locator(".limits-form .field-error:not(:empty)").first().textContent(), /more than the host's .* of memory/);
  // Past alice's quota (4 GiB): the daemon refuses it; its message is in units, once, at the field.
  await memory.fill("8192");
  await page.getByRole("button", { name: "Save limits" }).click();
  const error = page.locator(`#${await memory.getAttribute("id")}-err`);
  await error.filter({ hasText: /quota/ }).waitFor();
  const text = await error.textContent();
  assert.match(text, /quota exceeded: memory would be [\d.]+GiB, the limit is 4GiB/i, text);
  assert.doesNotMatch(text, /\d{7,}/, "no raw byte counts");
  assert.equal(await page.locator(".limits-form .form-error").textContent(), "", "shown once, at its field");
  assert.equal((await d.api("GET", `/instances/${name}`)).limits.memory, 640 * MiB, "nothing changed");
  // The saved value shows everywhere.
  await memory.fill("768");
  await page.getByLabel("Start when the host boots (autostart)").check();
  await page.getByRole("button", { name: "Save limits" }).click();
  await page.getByText("now 768 MiB").waitFor();
  await page.locator('[data-fact="Limits"]', { hasText: "768 MiB memory" }).waitFor();
  const info = JSON.parse(d.berth("info", name, "--format", "json"));
  assert.equal(info.limits.memory, 768 * MiB);
  assert.equal(info.autostart, true);
  // A snapshot name against the schema's pattern (the old one was invalid under the `v` flag).
  await go(page, `#/instances/${name}/snapshots`);
  await page.getByLabel("Snapshot name (optional)").fill("Bad_Name");
  await page.getByRole("button", { name: "Take snapshot" }).click();
  await page.getByText(/1–63 lowercase letters/).waitFor();
  assert.deepEqual(await d.api("GET", `/instances/${name}/snapshots`), []);
  // The wizard: a bad name at its field; the daemon's SSH-key error as a sentence at its field.
  await go(page, "#/create");
  await page.getByLabel("Name").fill("Bad_Name");
  await page.getByText(/1–63 lowercase letters/).first().waitFor();
  await page.getByLabel("Name").fill(`${d.id}-nokey`);
  await page.getByLabel("SSH public keys (one a line)").fill("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@x\nssh-rsa nonsense");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  const keyErr = page.locator("textarea[name=ssh_keys] ~ .field-error");
  await keyErr.filter({ hasText: /Key on line 2 is not an OpenSSH public key/ }).waitFor();
  assert.equal(await page.locator("form.wizard .form-error").textContent(), "");
  assert.equal((await d.api("GET", "/instances")).filter((i) => i.name === `${d.id}-nokey`).length, 0);
  watch.check(REFUSED(400, 403));
  watch.clear();
});

test("a quota-limited user's wizard proposes what fits, shows what is left, and disables Create with the reason when nothing does", async () => {
  const ctx = await newContext(browser, d);
  const carol = await signIn(ctx, CAROL, "#/create");
  const w = watchConsole(carol, "carol");
  await carol.getByLabel("Memory (MiB)").waitFor();
  assert.equal(await carol.getByLabel("Memory (MiB)").inputValue(), "384", "the default fits the 384 MiB quota");
  assert.equal(await carol.getByLabel("CPU (cores)").inputValue(), "0.5");
  assert.ok(Number(await carol.getByLabel("Disk (GiB)").inputValue()) <= 2);
  await carol.getByText("384 MiB of 384 MiB left in your quota").waitFor();
  await carol.getByText("1 of 1 instances left in your quota.").waitFor();
  assert.equal(await carol.getByLabel("Memory (MiB)").getAttribute("max"), "384");
  await carol.getByLabel("Memory (MiB)").fill("512");
  await carol.locator("input[name='memory (mib)'][aria-invalid=true]").waitFor();
  assert.match(await carol.locator(".field-error:not(:empty)").first().textContent(), /more than the 384 MiB your quota leaves/);
  assert.equal(await carol.getByRole("button", { name: "Create", exact: true }).isEnabled(), true);
  await shot(carol, "27-create-quota");
  // An admin lowers her instance quota to what she has: nothing fits any more.
  const id = (await d.api("GET", "/users")).find((u) => u.username === "carol").id;
  await d.api("PATCH", `/users/${id}`, { quota: { instances: 0, memory: 384 * MiB, cpu: 0.5, disk: 2 * 1024 ** 3 } });
  await go(carol, "#/create");
  const create = carol.getByRole("button", { name: "Create", exact: true });
  await carol.locator("#create-blocked", { hasText: /Nothing fits: your quota allows 0 instances and you have 0/ }).waitFor();
  assert.equal(await create.isDisabled(), true);
  assert.equal(await create.getAttribute("aria-describedby"), "create-blocked");
  await shot(carol, "28-create-nothing-fits");
  w.check();
  await ctx.close();
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
  await page.getByRole("button", { name: "Generate one" }).click();
  const generated = (await page.getByTestId("new-password").textContent()).trim();
  await page.getByRole("button", { name: "Copy the root password" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), generated);
  await page.getByLabel("New root password").fill(NEW_ROOT_PASSWORD);
  await page.getByRole("button", { name: "Set password" }).click();
  await page.getByText("Root password changed.").waitFor();

  const port = await freePort();
  await go(page, `#/instances/${name}/forwards`);
  await page.getByLabel("Host [address:]port").fill(`127.0.0.1:${port}`);
  assert.equal(await page.getByLabel("Guest port").getAttribute("max"), String(SCHEMAS.CreateForwardRequest.properties.port.maximum));
  await page.getByLabel("Guest port").fill("22");
  await page.getByRole("button", { name: "Add forward" }).click();
  await page.getByRole("cell", { name: `127.0.0.1:${port}`, exact: true }).waitFor();
  await shot(page, "07-instance-forwards");
  let ssh;
  for (let i = 0; i < 20; i++) {
    ssh = spawnSync("sshpass", ["-p", NEW_ROOT_PASSWORD, "ssh", "-p", String(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no", "root@127.0.0.1", "hostname"], { encoding: "utf8", timeout: 30_000 });
    if (ssh.status === 0) break;
    await page.waitForTimeout(1000);
  }
  assert.equal(ssh.status, 0, `ssh failed: ${ssh.stderr}`);
  assert.equal(ssh.stdout.trim(), name);
  await page.getByRole("button", { name: new RegExp(`remove forward 127\\.0\\.0\\.1:${port}`) }).click();
  await page.getByRole("dialog").getByRole("button", { name: "remove" }).click();
  await page.getByText("No port forwards.").waitFor();
  assert.deepEqual(await d.api("GET", `/instances/${name}/forwards`), []);
});

test("charts: data, theme colours (following the system until chosen), round ticks, legends with the current value, the time axis starting with the data", async () => {
  await go(page, `#/instances/${name}/charts`);
  const points = await until("points with data", async () => {
    await page.getByRole("radio", { name: "hour" }).click();
    await page.locator(".chart canvas").nth(3).waitFor();
    return Number(await page.locator("[data-points]").getAttribute("data-points"));
  }, 60_000);
  assert.ok(points > 0);
  assert.equal(await page.locator(".chart canvas").count(), 4, "four charts: CPU, memory, disk, network");
  const memory = page.locator("figure.chart", { hasText: "Memory" });
  const ticks = (await memory.getAttribute("data-ticks")).split("|");
  // Sizes fall on multiples of a power-of-two step (0, 256 MiB, 512 MiB, 768 MiB …).
  const bytes = ticks.map((t) => {
    const [n, unit] = t.split(" ");
    const scale = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[unit];
    assert.ok(scale, `a size unit: ${t} (${ticks})`);
    return Number(n) * scale;
  });
  const step = bytes.length > 1 ? bytes[1] - bytes[0] : bytes[0] || 1;
  assert.equal(Math.log2(step) % 1, 0, `a power-of-two step: ${step} (${ticks})`);
  for (const b of bytes) assert.equal(b % step, 0, `a round size tick: ${b} (${ticks})`);
  const cpuTicks = (await page.locator("figure.chart", { hasText: "CPU" }).getAttribute("data-ticks")).split("|");
  assert.ok(cpuTicks.every((t) => /^\d+ %$/.test(t) && Number.parseInt(t) % 5 === 0 || t === "1 %" || t === "2 %"), `round percentages: ${cpuTicks}`);
  const values = await memory.locator(".u-legend .u-value").allTextContents();
  assert.ok(values.slice(1).some((v) => /MiB|KiB/.test(v)), `the legend shows the current value: ${values}`);
  // A new instance's hour is not mostly empty: the axis starts at its first sample.
  const history = await d.api("GET", `/instances/${name}/metrics?timeframe=hour&cf=avg`);
  const first = history.points.find((p) => p.memory_bytes !== null).time;
  assert.ok(Number(await memory.getAttribute("data-x-min")) >= first - history.resolution, "the time axis starts at the data");
  // Colours: the system's scheme until chosen; the grid follows the theme.
  await page.emulateMedia({ colorScheme: "light" });
  await until("the light theme", async () => (await page.evaluate(() => document.documentElement.dataset.theme)) === "light");
  const light = await memory.getAttribute("data-grid");
  await shot(page, "08-instance-charts");
  await page.emulateMedia({ colorScheme: "dark" });
  await until("the dark theme", async () => (await page.evaluate(() => document.documentElement.dataset.theme)) === "dark");
  const dark = await memory.getAttribute("data-grid");
  assert.notEqual(light, dark, "the grid takes its colour from the theme");
  const luminance = (c) => {
    // rgb(0–255 …) or color(srgb 0–1 …), as the browser computed it.
    const [r, g, b] = c.match(/[\d.]+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / (c.startsWith("color(") ? 1 : 255);
  };
  assert.ok(luminance(light) > 0.6, `light grid lines are light, not black: ${light}`);
  assert.ok(luminance(dark) < 0.4, `dark grid lines are dark: ${dark}`);
  await shot(page, "08-instance-charts-dark");
  // Chosen in Settings → Defaults: it stays whatever the system says.
  await go(page, "#/settings/defaults");
  await page.getByLabel("Theme").selectOption("light");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "light");
  await page.getByLabel("Theme").selectOption("system");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await page.emulateMedia({ colorScheme: "light" });
});

test("snapshots: taken, restored (the guest runs again), deleted; a schedule set in the UI is in the API", async () => {
  await go(page, `#/instances/${name}/snapshots`);
  await page.getByLabel("Snapshot name (optional)").fill("ui-snap");
  await page.getByRole("button", { name: "Take snapshot" }).click();
  await page.getByRole("cell", { name: "ui-snap", exact: true }).waitFor({ timeout: 120_000 });
  await page.getByRole("button", { name: "restore ui-snap" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "restore" }).click();
  await page.getByText("Restore ui-snap: done").waitFor({ timeout: 180_000 });
  await page.locator(".page-head .badge[data-state=running]").waitFor({ timeout: 60_000 });
  // The schedule.
  await page.getByLabel("Schedule", { exact: true }).selectOption("@daily");
  await page.getByLabel("Keep for (e.g. 12h, 7d, 2w)").fill("7 days");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await page.locator("input[name=expiry][aria-invalid=true]").waitFor(); // the schema's pattern
  await page.getByLabel("Keep for (e.g. 12h, 7d, 2w)").fill("7d");
  await page.getByLabel("Keep at most").fill("3");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await page.getByTestId("snapshots-schedule").filter({ hasText: "Scheduled: @daily, kept 7d, at most 3." }).waitFor();
  assert.deepEqual((await d.api("GET", `/instances/${name}`)).snapshots, { schedule: "@daily", expiry: "7d", max: 3 });
  await shot(page, "09-instance-snapshots");
  await page.getByRole("button", { name: "delete ui-snap" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "delete" }).click();
  await page.getByText("No snapshots yet.").waitFor();
});

test("backups: made with progress, downloaded, restored as a new instance, imported by upload with progress; a backup schedule", async () => {
  await go(page, `#/instances/${name}/backups`);
  await page.getByRole("button", { name: "Create backup" }).click();
  const link = page.getByRole("link", { name: /^download the backup/ });
  await link.waitFor({ timeout: 300_000 });
  const href = await link.getAttribute("href");
  const r = await page.request.get(`${d.url}${href}`);
  assert.equal(r.status(), 200, "the export link works with the session cookie");
  const archive = await r.body();
  assert.ok(archive.length > 1_000_000, "a real archive");
  // Restore into a new instance, from the stored backup.
  const restored = `${name}-r`;
  await page.getByRole("button", { name: /^restore the backup/ }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("New instance name").fill("Not A Name");
  await dialog.getByRole("button", { name: "Restore" }).click();
  await dialog.locator("[aria-invalid=true]").waitFor();
  await dialog.getByLabel("New instance name").fill(restored);
  await dialog.getByRole("button", { name: "Restore" }).click();
  await page.getByText(`Restored as ${restored} (stopped).`).waitFor({ timeout: 300_000 });
  assert.equal((await d.api("GET", `/instances/${restored}`)).state, "stopped");
  // The backup schedule.
  await page.getByLabel("Schedule", { exact: true }).selectOption("custom");
  await page.getByLabel("Cron (M H DoM Mon DoW, UTC)").fill("30 2 * * 99");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await page.locator("input[name=backups-cron][aria-invalid=true]").waitFor(); // the daemon's error, at the field
  await page.getByLabel("Cron (M H DoM Mon DoW, UTC)").fill("30 2 * * 1");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await page.getByTestId("backups-schedule").filter({ hasText: "Scheduled: 30 2 * * 1." }).waitFor();
  assert.deepEqual((await d.api("GET", `/instances/${name}`)).backups, { schedule: "30 2 * * 1" });
  await shot(page, "10-instance-backups");
  // Import the downloaded archive by upload, with progress.
  const dir = mkdtempSync(path.join(tmpdir(), "berth-web-"));
  const file = path.join(dir, "backup.tar.zst");
  writeFileSync(file, archive);
  const imported = `${name}-i`;
  await go(page, "#/instances");
  await page.getByRole("button", { name: "Import a backup" }).click();
  await page.getByLabel("Backup archive (.tar.zst)").setInputFiles(file);
  await page.getByLabel("New instance name (optional)").fill(imported);
  await page.getByRole("button", { name: "Upload and import" }).click();
  await page.getByText(`${imported} was imported (stopped).`).waitFor({ timeout: 300_000 });
  assert.equal(await page.locator(".progress-box [data-sent]").getAttribute("data-sent"), String(archive.length), "the upload reported every byte");
  await shot(page, "29-import");
  rmSync(dir, { recursive: true, force: true });
  assert.equal((await d.api("GET", `/instances/${imported}`)).state, "stopped");
  watch.check(REFUSED(400));
  watch.clear();
});

test("the instance list: search, filter and sort", async () => {
  await go(page, "#/instances");
  const rows = () => page.locator("tbody tr").evaluateAll((trs) => trs.map((t) => t.dataset.instance));
  await until("three instances", async () => (await rows()).length === 3);
  await page.getByLabel("Search").fill("-r");
  assert.deepEqual(await rows(), [`${name}-r`]);
  await page.getByLabel("Search").fill("10.");
  assert.equal((await rows()).length, 3, "addresses are searched");
  await page.getByLabel("Search").fill("");
  await page.getByLabel("State").selectOption("stopped");
  assert.deepEqual((await rows()).sort(), [`${name}-i`, `${name}-r`]);
  await page.getByTestId("match-count").filter({ hasText: "2 of 3 instances" }).waitFor();
  await page.getByLabel("State").selectOption("");
  await page.getByRole("button", { name: "Name" }).click();
  assert.deepEqual(await rows(), [`${name}-r`, `${name}-i`, name], "descending");
  await page.getByRole("button", { name: "Name" }).click();
  assert.deepEqual(await rows(), [name, `${name}-i`, `${name}-r`], "ascending");
  assert.equal(await page.locator("th[aria-sort=ascending]").textContent(), "Name ▲");
  await page.getByLabel("Search").fill("no-such-thing");
  await page.getByText("No instance matches").waitFor();
  await page.getByLabel("Search").fill("");
  await shot(page, "12-instances-all");
  for (const n of [`${name}-r`, `${name}-i`]) d.berth("delete", "--force", n);
  await until("one instance", async () => (await rows()).length === 1);
});

test("operations and audit entries show their steps, target and result; a failed one its reason", async () => {
  await go(page, `#/instances/${name}/activity`);
  const op = page.locator("li.op").first();
  await op.locator("summary").click();
  const steps = await op.locator(".steps li").allTextContents();
  assert.ok(steps.length >= 1 && steps.every((s) => /^(done|skipped)/.test(s)), steps.join(" | "));
  await shot(page, "11-instance-activity");
  await go(page, "#/settings/audit");
  // This instance's create, paging back with "Older entries" (50 a page) as far as it takes.
  const entry = page.locator('li.audit-entry[data-action="instance.create"]').filter({ hasText: '"image": "debian/12"' }).filter({ hasText: `"${name}"` }).first();
  await until("the create's audit entry", async () => {
    if (await entry.count()) return true;
    const older = page.getByRole("button", { name: "Older entries" });
    if (await older.isVisible()) await older.click();
    return false;
  });
  await entry.locator("summary").click();
  assert.match(await entry.locator("pre.params").textContent(), /"image": "debian\/12"/);
  // alice's refused limit change, from the newest page back (a page holds 50 entries; anonymous
  // requests are recorded too, as bounded summaries, so it may be pages away from the create).
  await go(page, "#/settings/audit");
  const refused = page.locator('li.audit-entry[data-action="instance.update"]', { hasText: /quota exceeded/i }).first();
  await until("the refused update's audit entry", async () => {
    if (await refused.count()) return true;
    const older = page.getByRole("button", { name: "Older entries" });
    if (await older.isVisible()) await older.click();
    return false;
  });
  await refused.locator("summary").click();
  assert.match(await refused.textContent(), /quota exceeded: memory would be/);
  await shot(page, "17-settings-audit");
});

test("alerts: the card shows the rule name and a time; the history says what each channel did; rules are edited, disabled and deleted after confirming", async () => {
  const hook = `http://127.0.0.1:${hooks.address().port}/hook`;
  await go(page, "#/settings/alerts");
  await page.getByText("Add a rule").click();
  await page.getByLabel("Rule name").fill("web memory");
  await page.getByLabel("Metric").selectOption("memory_percent");
  await page.getByLabel("Threshold").fill("250");
  await page.getByLabel("For (seconds)").fill("0");
  await page.getByLabel("Scope").selectOption("instance");
  await page.getByLabel("Instance or user").fill(name);
  await page.getByLabel("Webhook (optional)").fill(hook);
  await page.getByRole("button", { name: "Add rule" }).click();
  await page.locator("input[name=threshold][aria-invalid=true]").waitFor(); // 0–100 for a percentage
  const alices = async () => (await d.api("GET", "/alerts/rules")).filter((r) => r.owner === ALICE[0]);
  assert.equal((await alices()).length, 0, "bad input changed nothing");
  await page.getByLabel("Threshold").fill("0.1");
  await page.getByRole("button", { name: "Add rule" }).click();
  await page.getByRole("row", { name: /web memory/ }).getByRole("cell", { name: `instance ${name}` }).waitFor();
  const [rule] = await alices();
  assert.deepEqual([rule.name, rule.threshold, rule.scope.value, rule.webhook], ["web memory", 0.1, name, hook]);
  // It fires at the next tick: the webhook goes out, the email is skipped (alice has no address).
  const event = await until("the alert to fire and be delivered", async () => {
    const [e] = await d.api("GET", "/alerts/events");
    return e?.deliveries ? e : null;
  }, 60_000);
  assert.equal(event.rule_name, "web memory");
  assert.ok(hookBodies.length >= 1, "the webhook was called");
  await go(page, "#/");
  const card = page.locator("section.card", { has: page.getByRole("heading", { name: "Alerts" }) });
  const row = card.getByRole("row", { name: /web memory/ });
  await row.waitFor();
  const when = await row.locator("time").textContent();
  assert.match(when, /^\d{1,2}\/\d{1,2}\/\d{4}, \d{1,2}:\d{2}:\d{2}\s?[AP]M$/, `a time, not an epoch number: ${when}`);
  assert.doesNotMatch(await card.textContent(), /memory_percent|\b1\d{9}\b/, "the rule's name and a time, not the metric and epoch seconds");
  await shot(page, "20-dashboard-alerts");
  await go(page, "#/settings/alerts");
  const history = page.locator("section.card", { has: page.getByRole("heading", { name: "Alert history" }) });
  await history.getByText(`webhook to ${hook}:`).waitFor();
  await history.getByText(/email: skipped neither the rule's nor the instance's owner has an email address/).first().waitFor();
  assert.equal(await history.getByText("Sent: yes").count(), 0);
  // Edit: the threshold; disable; delete only after confirming.
  await page.getByRole("button", { name: "Edit rule web memory" }).click();
  const edit = page.getByRole("form", { name: "Edit alert rule web memory" });
  await edit.getByLabel("Threshold").fill("95");
  await edit.getByRole("button", { name: "Save rule" }).click();
  await page.getByRole("row", { name: /web memory/ }).getByRole("cell", { name: /above 95/ }).waitFor();
  assert.equal((await alices())[0].threshold, 95);
  await page.getByRole("button", { name: "Disable rule web memory" }).click();
  await page.getByRole("button", { name: "Enable rule web memory" }).waitFor();
  assert.equal((await alices())[0].enabled, false);
  await shot(page, "26-alert-rules");
  await page.getByRole("button", { name: "Delete rule web memory" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
  assert.equal((await alices()).length, 1, "not deleted without confirming");
  await page.getByRole("button", { name: "Delete rule web memory" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "delete" }).click();
  await page.getByText("No rules.").waitFor();
  assert.equal((await alices()).length, 0);
  watch.check(REFUSED(400));
  watch.clear();
});

test("API tokens (copied) and my password from the account page", async () => {
  await go(page, "#/settings/account");
  await page.getByLabel("Token name").fill("ci");
  await page.getByLabel("Scope").selectOption("read_only");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.getByTestId("token-secret").textContent()).trim();
  assert.match(secret, /^berth_[0-9a-f]{32}_/);
  await page.getByRole("button", { name: "Copy the token" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  const list = await page.request.get(`${d.url}/api/v1/instances`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(list.status(), 200, "the new token works");
  await page.getByRole("row", { name: /ci/ }).getByRole("button", { name: "revoke" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "revoke" }).click();
  await page.getByText("No API tokens.").waitFor();
  const revoked = await page.request.get(`${d.url}/api/v1/instances`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(revoked.status(), 401, "the revoked token does not");
  await shot(page, "15-settings-account");

  await page.getByLabel("Current password").fill("wrong-password-1");
  await page.getByLabel("New password", { exact: true }).fill(NEW_ALICE_PASSWORD);
  await page.getByLabel("Repeat the new password").fill(NEW_ALICE_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await page.locator("[aria-invalid=true]").first().waitFor(); // refused, shown at the field
  await page.getByLabel("Current password").fill(ALICE[1]);
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByText("Password changed").waitFor();
  ALICE[1] = NEW_ALICE_PASSWORD;
  watch.check(REFUSED(400, 401, 403));
  watch.clear();
});

test("the session renews itself when the 15-minute access cookie is gone", async () => {
  const context = page.context();
  await context.clearCookies({ name: "berth_session" });
  await page.reload();
  await page.locator("main h1", { hasText: "Settings" }).waitFor(); // not the login page
  assert.ok((await context.cookies()).some((c) => c.name === "berth_session"), "a new access cookie");
  watch.check();
});

test("tab strips scroll on a narrow screen with a visible cue; every page fits a phone", async () => {
  const ctx = await newContext(browser, d, PHONE);
  const phone = await signIn(ctx, ALICE, `#/instances/${name}`);
  const w = watchConsole(phone, "phone");
  const tabs = phone.getByRole("navigation", { name: "Instance sections" });
  const strip = await tabs.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, overflow: getComputedStyle(el).overflowX, bg: getComputedStyle(el).backgroundImage }));
  assert.ok(strip.scroll > strip.client, `the tabs are wider than the screen: ${JSON.stringify(strip)}`);
  assert.equal(strip.overflow, "auto");
  assert.match(strip.bg, /gradient/, "shadows at the edges say there is more");
  for (const [file, hash] of [
    ["phone-dashboard", "#/"],
    ["phone-instances", "#/instances"],
    ["phone-create", "#/create"],
    ["phone-instance", `#/instances/${name}`],
    ["phone-console", `#/instances/${name}/console`],
    ["phone-images", "#/images"],
    ["phone-network", "#/network"],
    ["phone-settings-alerts", "#/settings/alerts"],
  ]) {
    await go(phone, hash);
    if (hash.endsWith("/console")) await phone.getByText(`Connected to ${name}`).waitFor({ timeout: 30_000 });
    await shot(phone, file);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${hash} fits a 390 px wide phone (overflows by ${overflow} px)`);
  }
  w.check();
  await ctx.close();
});

test("keyboard: skip link, navigation order, visible focus; every control has a label", async () => {
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
  for (const hash of ["#/create", `#/instances/${name}`, `#/instances/${name}/backups`, "#/settings/alerts"]) {
    await go(page, hash);
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("main input, main select, main textarea")]
        .filter((el) => !(el.labels?.length || el.getAttribute("aria-label")))
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(unlabelled, [], hash);
  }
});

test("a create that fails shows the failed step and its reason, also in the dashboard's operations", async () => {
  // A second daemon whose create operations fail at the configure step.
  const f = await Daemon.start({ index: 1, env: { BERTH_FAILPOINTS: "instance_create.configure=error" } });
  const ctx = await newContext(browser, f);
  try {
    const p = await signIn(ctx, ["admin", ADMIN_PASSWORD], "#/create");
    await p.getByLabel("Name").fill(`${f.id}-bad`);
    await p.getByLabel("Disk (GiB)").fill("2");
    await p.getByRole("button", { name: "Create", exact: true }).click();
    await p.getByText(`Creating ${f.id}-bad failed at step "configure":`).waitFor({ timeout: 300_000 });
    const reason = await p.locator(".progress-box .error").first().textContent();
    assert.match(reason, /configure|failpoint|injected/i, reason);
    await p.locator(".step-failed", { hasText: "configure" }).waitFor();
    await shot(p, "25-create-failure");
    assert.deepEqual(JSON.parse(f.berth("list", "--format", "json")), [], "the failed create left nothing behind");
    await go(p, "#/");
    const op = p.locator("li.op-failure").first();
    await op.locator("summary").click();
    assert.match(await op.locator(".op-body").textContent(), /Failed: .*(configure|failpoint|injected)/i);
    await op.locator(".step-failed", { hasText: "configure" }).waitFor();
    await shot(p, "25-dashboard-failed-operation");
  } finally {
    await ctx.close();
    await f.stop();
  }
});

test("another user never sees the instance; an admin sees it with its owner", async () => {
  const bob = await signIn(await newContext(browser, d), BOB, "#/instances");
  await bob.getByText("No instances yet").waitFor();
  assert.equal(await bob.getByText(name).count(), 0);
  await go(bob, `#/instances/${name}`);
  await bob.getByRole("heading", { name: "Not found" }).waitFor();
  const r = await bob.request.get(`${d.url}/api/v1/instances/${name}`);
  assert.equal(r.status(), 404);
  await shot(bob, "18-other-user-instances");
  await bob.context().close();

  const admin = await signIn(await newContext(browser, d), ["admin", ADMIN_PASSWORD], "#/network");
  const w = watchConsole(admin, "admin");
  // The IPv6 uplink form: a mode's own fields, and a bad prefix is refused at its field.
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
  await admin.getByLabel("Owner").selectOption("alice");
  const row = admin.locator(`tr[data-instance="${name}"]`);
  await row.getByRole("cell", { name: "alice", exact: true }).waitFor();
  await shot(admin, "19-admin-instances");
  w.check(REFUSED(400));
  await admin.context().close();
});

test("axe-core finds no serious or critical problem on any page, in both themes and both widths (screenshots of each)", async () => {
  const pages = [
    ["dashboard", "#/"],
    ["instances", "#/instances"],
    ["create", "#/create"],
    ["images", "#/images"],
    ["network", "#/network"],
    ["instance", `#/instances/${name}`],
    ["instance-charts", `#/instances/${name}/charts`],
    ["instance-console", `#/instances/${name}/console`],
    ["instance-snapshots", `#/instances/${name}/snapshots`],
    ["instance-backups", `#/instances/${name}/backups`],
    ["instance-forwards", `#/instances/${name}/forwards`],
    ["instance-activity", `#/instances/${name}/activity`],
    ["settings-system", "#/settings"],
    ["settings-account", "#/settings/account"],
    ["settings-defaults", "#/settings/defaults"],
    ["settings-users", "#/settings/users"],
    ["settings-alerts", "#/settings/alerts"],
    ["settings-audit", "#/settings/audit"],
  ];
  let runs = 0;
  const t0 = Date.now();
  for (const [width, options] of [
    ["desktop", DESKTOP],
    ["phone", PHONE],
  ]) {
    const ctx = await newContext(browser, d, options);
    const p = await signIn(ctx, ["admin", ADMIN_PASSWORD]);
    const w = watchConsole(p, `axe ${width}`);
    for (const theme of ["light", "dark"]) {
      // The theme is read when the page loads: a reload applies it (hash navigations do not).
      await p.evaluate((t) => localStorage.setItem("berth-theme", t), theme);
      await p.reload();
      await p.locator("main h1").first().waitFor();
      // The login page, signed out in a context of its own.
      const anon = await (await newContext(browser, d, options)).newPage();
      await anon.addInitScript((t) => localStorage.setItem("berth-theme", t), theme);
      await anon.goto("/");
      await anon.getByLabel("Username").waitFor();
      await axe(anon, `login, ${theme}, ${width}`);
      await shot(anon, `axe-${width}-${theme}-login`);
      await anon.context().close();
      runs += 1;
      for (const [file, hash] of pages) {
        await go(p, hash);
        if (hash.endsWith("/console")) await p.getByText(`Connected to ${name}`).waitFor({ timeout: 30_000 });
        if (hash.endsWith("/charts")) await p.locator(".chart canvas").first().waitFor();
        assert.equal(await p.evaluate(() => document.documentElement.dataset.theme), theme);
        await axe(p, `${file}, ${theme}, ${width}`);
        await shot(p, `axe-${width}-${theme}-${file}`);
        runs += 1;
      }
    }
    w.check();
    await ctx.close();
  }
  console.log(`# axe-core: ${runs} pages checked (both themes, both widths) in ${Math.round((Date.now() - t0) / 1000)} s`);
});
