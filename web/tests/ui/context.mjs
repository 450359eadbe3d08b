// The shared state of the browser tour (tests/ui.test.mjs): one berthd with real guests, the
// users, the webhook receiver and alice's signed-in page, set up once for every part.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { ADMIN_PASSWORD, Daemon, freePort } from "../lib/daemon.mjs";
import { axe, DESKTOP, go, launch, newContext, PHONE, shot, signIn, until, watchConsole } from "../lib/browser.mjs";

export const ALICE = ["alice", "Sails-Set-At-Dawn-26"];
export const BOB = ["bob", "Oars-And-Rudder-26"];
export const CAROL = ["carol", "Keel-And-Compass-26"];
export const NEW_ROOT_PASSWORD = "Tide-Turns-At-Nine-41";
export const NEW_ALICE_PASSWORD = "Harbour-Lights-Blink-7";
export const OPENAPI = JSON.parse(readFileSync(fileURLToPath(new URL("../../../openapi/berth.json", import.meta.url)), "utf8"));
export const SCHEMAS = OPENAPI.components.schemas;
export const MiB = 1024 ** 2;
/** Expected power buttons per state, as the instance page shows them. */
export const VERBS = { running: ["stop", "restart", "suspend"], stopped: ["start", "delete"], suspended: ["resume", "stop"] };
/** Requests a browser logs as errors when the daemon refuses bad input on purpose. */
export const REFUSED = (...codes) => codes.map((c) => new RegExp(`status of ${c}`));

export let d;
export let browser;
export let page; // alice, desktop
export let watch; // alice's console
export let name;
export let hooks; // webhook receiver
export const hookBodies = [];

/** alice's page and console watch, once signed in (the first test). */
export function signedIn(p, w) {
  page = p;
  watch = w;
}

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
