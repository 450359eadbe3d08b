// The browser tour, part 3: alerts, tokens, the session, narrow screens, keyboard, a failed create, other users, axe-core.

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
  // Settings › System: the host view (load, uptime, pool size) is an admin's only.
  await go(bob, "#/settings");
  await bob.getByRole("heading", { name: "Backends" }).waitFor();
  assert.equal(await bob.getByTestId("host-view").count(), 0, "a user sees no host view");
  await bob.context().close();
  const boss = await signIn(await newContext(browser, d), ["admin", ADMIN_PASSWORD], "#/settings");
  await boss.getByTestId("host-view").getByText("Load average").waitFor();
  await boss.context().close();

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
