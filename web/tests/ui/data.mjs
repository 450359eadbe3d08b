// The browser tour, part 2: charts, snapshots, backups, the instance list, operations and audit.

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
