#!/usr/bin/env python3
"""Berth benchmarks: launch-from-cache latency, boot to is-system-running, berthd RSS idle and
with N instances, snapshots and backups. Starts its own berthd (unique data dir, socket,
bridge, nftables table and subnet; no TCP) with the shared test image cache, prints one table
(bench/table.py) and removes everything it made. With --backends, each round launches on every
backend in turn (builtin 1, nspawn 1, …, builtin 2, …). Run as root:

    cargo build --release -p berthd -p berth && python3 bench/bench.py [--launches 20] [--instances 100] [--storage 10]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import table  # noqa: E402
from api import Api, UnixHTTP  # noqa: E402

ROOT = table.ROOT


def children(pid):
    """The direct children of `pid`."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []




class Daemon(Api):
    def __init__(self, bindir, cache, extra_env=None):
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
        env.update(extra_env or {})
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

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def lxcfs_rss_kib(self):
        """VmRSS of this daemon's lxcfs (its supervisor and the lxcfs it runs), 0 without one."""
        try:
            with open(f"{self.run}/lxcfs/supervisor.pid") as f:
                supervisor = int(f.read().strip())
        except (OSError, ValueError):
            return 0
        total = 0
        for pid in [supervisor] + children(supervisor):
            try:
                with open(f"/proc/{pid}/status") as status:
                    total += next((int(l.split()[1]) for l in status if l.startswith("VmRSS:")), 0)
            except OSError:
                pass
        return total

    def stop_lxcfs(self):
        """berthd's lxcfs supervisor outlives berthd on purpose: stop it (TERM, it takes lxcfs
        and the mount with it)."""
        try:
            with open(f"{self.run}/lxcfs/supervisor.pid") as f:
                pid = int(f.read().strip())
            os.kill(pid, 15)
        except (OSError, ValueError):
            return
        for _ in range(500):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        return
            except OSError:
                return
            time.sleep(0.02)

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
            self.stop_lxcfs()
            mounts = [l.split()[4] for l in open("/proc/self/mountinfo")
                      if l.split()[4].startswith((self.data + "/", self.run + "/"))]
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


def ms(seconds):
    return seconds * 1000


def boot_wait(d, name, t0):
    """Seconds from t0 until systemd inside says running (or degraded); until its bus socket
    exists the answer is "offline": ask again."""
    state = ""
    while time.monotonic() - t0 < 120:
        out = d.call("POST", f"/instances/{name}/exec", {"command": ["systemctl", "is-system-running", "--wait"], "timeout": 120})
        state = out["stdout"].strip()
        if state in ("running", "degraded"):
            break
        time.sleep(0.02)
    if state not in ("running", "degraded"):
        print(f"{name}: is-system-running said {state!r}", file=sys.stderr)
    return time.monotonic() - t0


def storage(d, run, count):
    """Snapshots of a running guest, a restore, a backup and its import."""
    d.op("POST", "/instances", {"name": "s0", "image": "debian/12", "limits": {"memory": 268435456}})
    for i in range(count):
        t0 = time.monotonic()
        d.op("POST", "/instances/s0/snapshots", {"name": f"snap{i}"})
        run.add("snapshot of a running guest (freeze, btrfs snapshot, thaw, size)", "ms", ms(time.monotonic() - t0))
    t0 = time.monotonic()
    d.op("POST", "/instances/s0/snapshots/snap0/restore")
    run.add("restore of a running guest (stop, swap, start)", "ms", ms(time.monotonic() - t0))
    t0 = time.monotonic()
    d.op("POST", "/instances/s0/backups", {})
    run.add("backup of a running guest (snapshot + tar.zst export)", "s", time.monotonic() - t0)
    backup = d.call("GET", "/instances/s0/backups")[-1]
    run.add("that backup's size, compressed", "MiB", backup["size"] / 2**20)
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
    run.add("import of that backup (upload, verify, unpack, configure)", "s", time.monotonic() - t0)


def backends(d, run, names, count):
    """Per backend, round-robin: launch (operation success, init running), launch to
    is-system-running, clean stop, delete."""
    for i in range(count):
        for backend in names:
            name = f"b-{backend}-{i}"
            t0 = time.monotonic()
            d.op("POST", "/instances", {"name": name, "image": "debian/12", "backend": backend,
                                         "limits": {"memory": 268435456}})
            run.add(f"{backend}: launch (create + start, init running)", "ms", ms(time.monotonic() - t0))
            run.add(f"{backend}: launch → is-system-running", "ms", ms(boot_wait(d, name, t0)))
            if i == 0:
                run.note(f"{backend} guests privileged: {d.call('GET', f'/instances/{name}').get('privileged')}")
            t0 = time.monotonic()
            d.op("POST", f"/instances/{name}/stop", {})
            run.add(f"{backend}: clean stop (SIGRTMIN+3 → cleaned up)", "ms", ms(time.monotonic() - t0))
            t0 = time.monotonic()
            d.op("DELETE", f"/instances/{name}", {"force": True})
            run.add(f"{backend}: delete of the stopped instance", "ms", ms(time.monotonic() - t0))


def launches(d, run, count, privileged_peer=False):
    """Create without start, launch, boot, delete --force, interleaved; with `privileged_peer`
    each round also launches a privileged guest (no user namespace, no idmapped root: what
    every guest was before issue 13) right after the unprivileged one, as its peer."""
    for i in range(count):
        t0 = time.monotonic()
        d.op("POST", "/instances", {"name": f"c{i}", "image": "debian/12", "start": False})
        run.add("create from cache (clone + configure, no start)", "ms", ms(time.monotonic() - t0))
        t0 = time.monotonic()
        d.op("POST", "/instances", {"name": f"l{i}", "image": "debian/12", "limits": {"memory": 268435456, "disk": 2147483648}})
        run.add("launch from cache (create + start, init running)", "ms", ms(time.monotonic() - t0))
        run.add("launch → is-system-running", "ms", ms(boot_wait(d, f"l{i}", t0)))
        if i == 0:
            run.note(f"guests privileged: {d.call('GET', '/instances/l0').get('privileged')}")
            run.add("lxcfs RSS (supervisor + lxcfs) with one guest running", "MiB", d.lxcfs_rss_kib() / 1024)
        t0 = time.monotonic()
        d.op("DELETE", f"/instances/l{i}", {"force": True})
        run.add("delete --force of a running instance", "ms", ms(time.monotonic() - t0))
        d.op("DELETE", f"/instances/c{i}", {"force": True})
        if privileged_peer:
            t0 = time.monotonic()
            d.op("POST", "/instances", {"name": f"p{i}", "image": "debian/12", "privileged": True,
                                         "limits": {"memory": 268435456, "disk": 2147483648}})
            run.add("privileged peer: launch from cache", "ms", ms(time.monotonic() - t0))
            run.add("privileged peer: launch → is-system-running", "ms", ms(boot_wait(d, f"p{i}", t0)))
            d.op("DELETE", f"/instances/p{i}", {"force": True})


def many(d, run, count):
    """COUNT guests launched one after another, kept running; RSS and a listing with them."""
    t_all = time.monotonic()
    for i in range(count):
        t0 = time.monotonic()
        d.op("POST", "/instances", {"name": f"m{i}", "image": "debian/12", "limits": {"memory": 134217728}})
        run.add(f"launch while 0…{count - 1} others run (no boot wait)", "ms", ms(time.monotonic() - t0))
    run.add(f"{count} instances launched one after another, total", "s", time.monotonic() - t_all)
    time.sleep(2)
    run.add(f"berthd RSS with {count} running", "MiB", d.rss_kib() / 1024)
    for _ in range(5):
        t0 = time.monotonic()
        d.call("GET", "/instances")
        run.add(f"GET /instances with {count}", "ms", ms(time.monotonic() - t0))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bindir", default=f"{ROOT}/target/release")
    parser.add_argument("--cache", default=os.environ.get("BERTH_TEST_IMAGE_CACHE", "/var/cache/berth-test/images"))
    parser.add_argument("--launches", type=int, default=20)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--storage", type=int, default=10, help="snapshots taken for the snapshot/backup figures")
    parser.add_argument("--backends", default="", help="comma-separated backends to time launch and boot on, round-robin, e.g. builtin,nspawn,oci,lxc")
    parser.add_argument("--backend-launches", type=int, default=10)
    parser.add_argument("--privileged-peer", action="store_true",
                        help="each launch round also launches a privileged guest, interleaved (before/after unprivileged guests)")
    args = parser.parse_args()

    run = table.Run("bench/bench.py " + " ".join(sys.argv[1:]), os.path.basename(os.path.normpath(args.bindir)))
    d = Daemon(args.bindir, args.cache)
    try:
        time.sleep(1)
        run.add("berthd idle RSS (1 s after start, no instances)", "MiB", d.rss_kib() / 1024)
        d.op("POST", "/images", {"image": "debian/12"})
        system = d.call("GET", "/system")
        run.note("berthd " + ", ".join(f"{k} {system.get(k)}" for k in ("version", "kernel", "cgroup", "storage_driver", "cpus"))
                 + "; default config, debian/12 from the test image cache")
        launches(d, run, args.launches, args.privileged_peer)
        if args.backends:
            names = [b for b in args.backends.split(",") if b]
            run.note(f"backends round-robin, {args.backend_launches} rounds: {', '.join(names)}; 256 MiB limit, networking on")
            backends(d, run, names, args.backend_launches)
        if args.storage:
            storage(d, run, args.storage)
        if args.instances:
            many(d, run, args.instances)
    finally:
        d.cleanup()
    run.print()


if __name__ == "__main__":
    main()
