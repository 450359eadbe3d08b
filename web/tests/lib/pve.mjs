// The project's Proxmox VE test double (crates/berth-proxmox, `berth-pve-double`) as a process
// of its own, for the browser tests: started on a free loopback port, its `[proxmox]` settings
// read from what it prints, hung (SIGSTOP: it accepts connections and never answers, as a hung
// node does) and resumed (SIGCONT) on demand, and stopped at the end.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { bins, freePort } from "./daemon.mjs";

export class PveDouble {
  static async start() {
    const bin = path.join(path.dirname(bins().berthd), "berth-pve-double");
    if (!existsSync(bin)) throw new Error(`${bin} is not built: run cargo build -p berth-proxmox --bin berth-pve-double (scripts/test.sh does)`);
    const pve = new PveDouble();
    const port = await freePort();
    pve.child = spawn(bin, ["--listen", `127.0.0.1:${port}`, "--nodes", "2"], { stdio: ["ignore", "pipe", "inherit"] });
    pve.exited = new Promise((resolve) => pve.child.once("exit", resolve));
    const settings = {};
    await new Promise((resolve, reject) => {
      let text = "";
      const timer = setTimeout(() => reject(new Error(`the PVE double printed no settings: ${text}`)), 30_000);
      pve.child.stdout.setEncoding("utf8");
      pve.child.stdout.on("data", (chunk) => {
        text += chunk;
        for (const m of text.matchAll(/^(\w+) = "(.*)"$/gm)) settings[m[1]] = m[2];
        if (settings.url && settings.token_id && settings.token_secret && settings.fingerprint) {
          clearTimeout(timer);
          resolve();
        }
      });
      pve.child.once("exit", (code) => reject(new Error(`the PVE double exited (${code}): ${text}`)));
    });
    pve.settings = settings;
    return pve;
  }

  /** berthd's environment for this double. */
  env() {
    const s = this.settings;
    return {
      BERTH_PROXMOX__URL: s.url,
      BERTH_PROXMOX__TOKEN_ID: s.token_id,
      BERTH_PROXMOX__TOKEN_SECRET: s.token_secret,
      BERTH_PROXMOX__FINGERPRINT: s.fingerprint,
      BERTH_PROXMOX__TIMEOUT_MS: "1000",
      BERTH_PROXMOX__CACHE_TTL_MS: "1000",
    };
  }

  hang() {
    this.child.kill("SIGSTOP");
  }

  resume() {
    this.child.kill("SIGCONT");
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill("SIGCONT");
    this.child.kill("SIGKILL");
    await this.exited;
  }
}
