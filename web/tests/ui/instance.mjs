// The browser tour, part 1: sign-in, the wizard, one store, limits, the console, password and forwards.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { ADMIN_PASSWORD, Daemon, freePort } from "../lib/daemon.mjs";
import { axe, DESKTOP, go, launch, newContext, PHONE, shot, signIn, until, watchConsole } from "../lib/browser.mjs";
import { ALICE, BOB, CAROL, NEW_ROOT_PASSWORD, NEW_ALICE_PASSWORD, SCHEMAS, MiB, VERBS, REFUSED, d, browser, page, watch, name, hooks, hookBodies, signedIn } from "./context.mjs";

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
  const alice = await signIn(ctx, ALICE);
  signedIn(alice, watchConsole(alice, "alice"));
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
