// A real berthd for the browser tests, configured like crates/berthd/tests/common/real.rs:
// its own data dir, runtime dir, socket, TCP port, bridge, nftables table and subnets, the
// shared test image cache and the builtin runtime. stop() deletes every instance, stops the
// daemon and removes everything it created, also when a test failed.

import { spawn, execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, openSync, readFileSync, rmSync, existsSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(fileURLToPath(new URL("../../..", import.meta.url)));

export function bins() {
  const dir = process.env.BERTH_BIN_DIR ?? path.join(ROOT, "target/debug");
  return { berthd: path.join(dir, "berthd"), berth: path.join(dir, "berth") };
}

/** A port that was free on 127.0.0.1 when asked. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const ADMIN_PASSWORD = "Harbour-Master-77";

export class Daemon {
  /** `index` tells daemons of one test process apart (their names and subnets). */
  /** `privateImages`: an image cache of its own (under the data dir), not the shared one. */
  static async start({ index = 0, env = {}, privateImages = false } = {}) {
    const { berthd, berth } = bins();
    for (const b of [berthd, berth]) {
      if (!existsSync(b)) throw new Error(`${b} is not built: run cargo build -p berthd -p berth first (scripts/test.sh does)`);
    }
    const d = new Daemon();
    const pid = process.pid;
    d.id = `bw${pid}x${index}`;
    d.bridge = d.id;
    d.table = `berth_${d.id}`;
    // Subnets apart from the Rust tests' (10.150–199.x): 10.200–239.x.
    d.ipv4 = `10.${200 + ((pid + index) % 40)}.${pid % 250}.1/24`;
    d.ipv6 = `fd42:${(pid & 0xffff).toString(16)}:e${index}::1/64`;
    d.dataDir = `/var/lib/berth-test/${d.id}`;
    d.runtimeDir = `/run/berth-test/${d.id}`;
    d.socket = `${d.runtimeDir}/berth.sock`;
    d.port = await freePort();
    d.url = `http://127.0.0.1:${d.port}`;
    d.berthBin = berth;
    mkdirSync(d.dataDir, { recursive: true });
    mkdirSync(d.runtimeDir, { recursive: true });
    d.env = {
      PATH: process.env.PATH,
      BERTH_LOG: "info,berthd=debug",
      BERTH_DATA_DIR: d.dataDir,
      BERTH_RUNTIME_DIR: d.runtimeDir,
      BERTH_SOCKET: d.socket,
      BERTH_LISTEN: JSON.stringify([`127.0.0.1:${d.port}`]),
      BERTH_IMAGES__CACHE_DIR: process.env.BERTH_TEST_IMAGE_CACHE ?? "/var/cache/berth-test/images",
      BERTH_STORAGE__POOL_SIZE: "20GiB",
      // Samples every 2 s: usage, charts and alerts show up quickly.
      BERTH_METRICS__INTERVAL: "2s",
      BERTH_NETWORK__BRIDGE: d.bridge,
      BERTH_NETWORK__TABLE: d.table,
      BERTH_NETWORK__IPV4: d.ipv4,
      BERTH_NETWORK__IPV6: d.ipv6,
      BERTH_AUTH__INITIAL_ADMIN_PASSWORD: ADMIN_PASSWORD,
      // The host's kernel limits stay as they are (crates/berthd/tests/host_limits.rs raises and
      // restores them), and no lxcfs is left mounted under the runtime dir the test removes.
      BERTH_HOST__RAISE_LIMITS: "false",
      BERTH_SECURITY__LXCFS: "false",
      ...(privateImages ? { BERTH_IMAGES__CACHE_DIR: `${d.dataDir}/images` } : {}),
      ...env,
    };
    d.berthdBin = berthd;
    try {
      await d.spawn();
    } catch (e) {
      await d.stop();
      throw e;
    }
    return d;
  }

  /** Starts the berthd process and waits until it answers on TCP and the socket. */
  async spawn() {
    const log = openSync(`${this.dataDir}/berthd.log`, "a");
    this.child = spawn(this.berthdBin, ["--config", "/dev/null"], { env: this.env, stdio: ["ignore", log, log] });
    this.exited = new Promise((resolve) => this.child.once("exit", resolve));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`berthd exited: ${this.log()}`);
      try {
        const r = await fetch(`${this.url}/api/v1/auth/session`);
        if (r.ok && existsSync(this.socket)) return;
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`berthd did not answer: ${this.log()}`);
  }

  /** Kills berthd at once (SIGKILL: as a crash); its guests keep running. */
  async kill() {
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** Starts berthd again on the same data dir, port and socket (after `kill`). */
  async restart() {
    await this.spawn();
  }

  log() {
    try {
      return readFileSync(`${this.dataDir}/berthd.log`, "utf8").slice(-4000);
    } catch {
      return "";
    }
  }

  /** The CLI over the socket (admin); throws with stderr on failure. */
  berth(...args) {
    return execFileSync(this.berthBin, ["--socket", this.socket, "--quiet", ...args], { encoding: "utf8", timeout: 600_000 });
  }

  /** A JSON API call over the unix socket (as the first admin). */
  api(method, urlPath, body) {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        { socketPath: this.socket, path: `/api/v1${urlPath}`, method, headers: { "content-type": "application/json", host: "localhost" } },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c) => (text += c));
          res.on("end", () => {
            const json = text ? JSON.parse(text) : null;
            if (res.statusCode >= 400) reject(new Error(`${method} ${urlPath}: ${res.statusCode} ${text}`));
            else resolve(json);
          });
        },
      );
      req.on("error", reject);
      req.end(data);
    });
  }

  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    if (this.child && this.child.exitCode === null) {
      try {
        const list = JSON.parse(this.berth("list", "--format", "json"));
        for (const i of list) spawnSync(this.berthBin, ["--socket", this.socket, "--quiet", "delete", "--force", i.name], { timeout: 120_000 });
      } catch {
        /* the daemon may be gone */
      }
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    // berthd leaves its bridge and table up on purpose (guests outlive it); tests don't.
    const quiet = { stdio: "ignore" };
    spawnSync("nft", ["delete", "table", "inet", this.table], quiet);
    spawnSync("ip", ["link", "del", this.bridge], quiet);
    if (existsSync("/run/netns")) {
      for (const f of readdirSync("/run/netns")) if (f.startsWith(`berth-${this.id}-`)) spawnSync("ip", ["netns", "del", f], quiet);
    }
    unmountBelow(this.dataDir);
    rmSync(this.dataDir, { recursive: true, force: true });
    rmSync(this.runtimeDir, { recursive: true, force: true });
  }
}

/** Unmounts everything under `dir` (deepest first) and detaches loop devices backed by it. */
function unmountBelow(dir) {
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p) => p && p.startsWith(dir))
    .sort((a, b) => b.length - a.length);
  for (const p of points) spawnSync("umount", ["-l", p], { stdio: "ignore" });
  const out = spawnSync("losetup", ["-n", "-O", "NAME,BACK-FILE", "-l"], { encoding: "utf8" }).stdout ?? "";
  for (const line of out.split("\n")) {
    const [dev, file] = line.trim().split(/\s+/);
    if (dev && file && file.startsWith(dir)) spawnSync("losetup", ["-d", dev], { stdio: "ignore" });
  }
}
