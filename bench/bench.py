#!/usr/bin/env python3
"""Berth benchmarks: launch-from-cache latency, boot to is-system-running, berthd RSS idle and
with N instances, snapshots and backups. Starts its own berthd (unique data dir, socket,
bridge, nftables table and subnet; no TCP) with the shared test image cache, prints figures,
and removes everything it made. Run as root:

    cargo build --release -p berthd -p berth && python3 bench/bench.py [--launches 20] [--instances 100] [--storage 10]
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=600)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


class Daemon:
    def __init__(self, bindir, cache):
        self.id = f"bench{os.getpid()}"
        self.data = f"/var/lib/berth-test/{self.id}"
        self.run = f"/run/berth-test/{self.id}"
        self.sock = f"{self.run}/berth.sock"
        os.makedirs(self.data, exist_ok=True)
        os.makedirs(self.run, exist_ok=True)
        env = {
            "PATH": os.environ["PATH"], "BERTH_DATA_DIR": self.data, "BERTH_RUNTIME_DIR": self.run,
            "BERTH_SOCKET": self.sock, "BERTH_LISTEN": "[]", "BERTH_IMAGES__CACHE_DIR": cache,
            "BERTH_STORAGE__POOL_SIZE": "50GiB", "BERTH_LOG": "warn",
            "BERTH_NETWORK__BRIDGE": self.id[:15], "BERTH_NETWORK__TABLE": f"berth_{self.id}",
            "BERTH_NETWORK__IPV4": f"10.199.{os.getpid() % 250}.1/24",
            "BERTH_NETWORK__IPV6": f"fd42:{os.getpid() & 0xffff:x}:b::1/64",
        }
        self.log = open(f"{self.data}/berthd.log", "ab")
        self.proc = subprocess.Popen([f"{bindir}/berthd", "--config", "/dev/null"], env=env,
                                     stdout=self.log, stderr=self.log)
        for _ in range(600):
            try:
                self.call("GET", "/system")
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("berthd did not start; see " + self.data + "/berthd.log")

    def call(self, method, path, body=None):
        conn = UnixHTTP(self.sock)
        conn.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None,
                     headers={"content-type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        value = json.loads(data) if data else None
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status} {value}")
        return value

    def op(self, method, path, body=None):
        accepted = self.call(method, path, body)
        op = self.call("GET", f"/operations/{accepted['operation']['id']}/wait?timeout=600")
        if op["status"] != "success":
            raise RuntimeError(f"{method} {path}: {op['error']}")
        return op

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cleanup(self):
        try:
            for inst in self.call("GET", "/instances"):
                try:
                    self.op("DELETE", f"/instances/{inst['name']}", {"force": True})
                except Exception as err:  # keep cleaning
                    print(f"cleanup {inst['name']}: {err}", file=sys.stderr)
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            mounts = [l.split()[4] for l in open("/proc/self/mountinfo") if l.split()[4].startswith(self.data)]
            for point in sorted(mounts, key=len, reverse=True):
                subprocess.run(["umount", "-l", point], check=False)
            loops = subprocess.run(["losetup", "-n", "-O", "NAME,BACK-FILE", "-l"], capture_output=True, text=True).stdout
            for line in loops.splitlines():
                cols = line.split()
                if len(cols) == 2 and cols[1].startswith(self.data):
                    subprocess.run(["losetup", "-d", cols[0]], check=False)
            shutil.rmtree(self.data, ignore_errors=True)
            shutil.rmtree(self.run, ignore_errors=True)
            subprocess.run(["nft", "delete", "table", "inet", f"berth_{self.id}"], check=False, stderr=subprocess.DEVNULL)
            subprocess.run(["ip", "link", "del", self.id[:15]], check=False, stderr=subprocess.DEVNULL)


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def storage(d, count):
    """Snapshots of a running guest, a restore, a backup and its import."""
    d.op("POST", "/instances", {"name": "s0", "image": "debian/12", "limits": {"memory": 268435456}})
    snaps = []
    for i in range(count):
        t0 = time.monotonic()
        d.op("POST", "/instances/s0/snapshots", {"name": f"snap{i}"})
        snaps.append(time.monotonic() - t0)
    print(f"snapshot of a running guest (freeze, btrfs snapshot, thaw, size), n={count}: p50 {ms(pct(snaps, 50))}, p99 {ms(pct(snaps, 99))}")
    t0 = time.monotonic()
    d.op("POST", "/instances/s0/snapshots/snap0/restore")
    print(f"restore of a running guest (stop, swap, start): {ms(time.monotonic() - t0)}")
    t0 = time.monotonic()
    d.op("POST", "/instances/s0/backups", {})
    made = time.monotonic() - t0
    backup = d.call("GET", "/instances/s0/backups")[-1]
    size = backup["size"]
    print(f"backup of a running guest (snapshot + tar.zst export): {made:.2f} s, {size / 2**20:.0f} MiB compressed")
    conn = UnixHTTP(d.sock)
    conn.request("GET", f"/api/v1/instances/s0/backups/{backup['id']}/export")
    archive = conn.getresponse().read()
    conn.close()
    t0 = time.monotonic()
    conn = UnixHTTP(d.sock)
    conn.request("POST", "/api/v1/instances?name=s1", body=archive, headers={"content-type": "application/zstd"})
    accepted = json.loads(conn.getresponse().read())
    conn.close()
    op = d.call("GET", f"/operations/{accepted['operation']['id']}/wait?timeout=600")
    if op["status"] != "success":
        raise RuntimeError(f"import: {op['error']}")
    print(f"import of that backup (upload, verify, unpack, configure): {time.monotonic() - t0:.2f} s")


def backends(d, names, count):
    """Per backend: launch (operation success, init running) and launch to is-system-running."""
    for backend in names:
        launch, boot, stop = [], [], []
        for i in range(count):
            name = f"b-{backend}-{i}"
            t0 = time.monotonic()
            d.op("POST", "/instances", {"name": name, "image": "debian/12", "backend": backend,
                                         "limits": {"memory": 268435456}})
            launch.append(time.monotonic() - t0)
            state = ""
            while time.monotonic() - t0 < 120:
                out = d.call("POST", f"/instances/{name}/exec", {"command": ["systemctl", "is-system-running", "--wait"], "timeout": 120})
                state = out["stdout"].strip()
                if state in ("running", "degraded"):
                    break
                time.sleep(0.02)
            boot.append(time.monotonic() - t0)
            t0 = time.monotonic()
            d.op("POST", f"/instances/{name}/stop", {})
            stop.append(time.monotonic() - t0)
            d.op("DELETE", f"/instances/{name}", {"force": True})
        print(f"{backend}: launch p50 {ms(pct(launch, 50))} p99 {ms(pct(launch, 99))}; "
              f"to is-system-running p50 {ms(pct(boot, 50))} p99 {ms(pct(boot, 99))}; "
              f"clean stop p50 {ms(pct(stop, 50))} (n={count})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bindir", default=f"{ROOT}/target/release")
    parser.add_argument("--cache", default=os.environ.get("BERTH_TEST_IMAGE_CACHE", "/var/cache/berth-test/images"))
    parser.add_argument("--launches", type=int, default=20)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--storage", type=int, default=10, help="snapshots taken for the snapshot/backup figures")
    parser.add_argument("--backends", default="", help="comma-separated backends to time launch and boot on, e.g. builtin,nspawn,oci,lxc")
    parser.add_argument("--backend-launches", type=int, default=10)
    args = parser.parse_args()

    d = Daemon(args.bindir, args.cache)
    try:
        time.sleep(1)
        print(f"berthd idle RSS: {d.rss_kib() / 1024:.1f} MiB")
        d.op("POST", "/images", {"image": "debian/12"})

        create, launch, boot, delete = [], [], [], []
        for i in range(args.launches):
            t0 = time.monotonic()
            d.op("POST", "/instances", {"name": f"c{i}", "image": "debian/12", "start": False})
            create.append(time.monotonic() - t0)
            t0 = time.monotonic()
            d.op("POST", "/instances", {"name": f"l{i}", "image": "debian/12", "limits": {"memory": 268435456, "disk": 2147483648}})
            launch.append(time.monotonic() - t0)
            # Until systemd's bus socket exists the answer is "offline": ask again.
            state = ""
            while time.monotonic() - t0 < 120:
                out = d.call("POST", f"/instances/l{i}/exec", {"command": ["systemctl", "is-system-running", "--wait"], "timeout": 120})
                state = out["stdout"].strip()
                if state in ("running", "degraded"):
                    break
                time.sleep(0.02)
            boot.append(time.monotonic() - t0)
            if state not in ("running", "degraded"):
                print(f"l{i}: is-system-running said {state!r}", file=sys.stderr)
            t0 = time.monotonic()
            d.op("DELETE", f"/instances/l{i}", {"force": True})
            delete.append(time.monotonic() - t0)
            d.op("DELETE", f"/instances/c{i}", {"force": True})
        if args.launches:
            print(f"create from cache (clone+configure, no start), n={len(create)}: p50 {ms(pct(create, 50))}, p99 {ms(pct(create, 99))}")
            print(f"launch from cache (create+start, init running), n={len(launch)}: p50 {ms(pct(launch, 50))}, p99 {ms(pct(launch, 99))}")
            print(f"delete --force of a running instance, n={len(delete)}: p50 {ms(pct(delete, 50))}, p99 {ms(pct(delete, 99))}")
            print(f"launch to is-system-running, n={len(boot)}: p50 {ms(pct(boot, 50))}, p99 {ms(pct(boot, 99))}")

        if args.backends:
            backends(d, [b for b in args.backends.split(",") if b], args.backend_launches)

        if args.storage:
            storage(d, args.storage)

        if args.instances:
            t0 = time.monotonic()
            for i in range(args.instances):
                d.op("POST", "/instances", {"name": f"m{i}", "image": "debian/12", "limits": {"memory": 134217728}})
            elapsed = time.monotonic() - t0
            time.sleep(2)
            print(f"{args.instances} instances launched in {elapsed:.1f} s; berthd RSS with {args.instances} running: {d.rss_kib() / 1024:.1f} MiB")
            t0 = time.monotonic()
            d.call("GET", "/instances")
            print(f"GET /instances with {args.instances}: {ms(time.monotonic() - t0)}")
    finally:
        d.cleanup()


if __name__ == "__main__":
    main()
