#!/usr/bin/env python3
"""berthd's resident memory (issues 13 and 20): for each of --runs fresh daemons, VmRSS,
RssAnon and RssFile (from /proc/PID/status) 1 s after it answers with no instances, right
after a burst of 200 API calls (8 password logins, then list, system, create and delete of
sim instances, each waited for), and --settle seconds later. Each daemon has its own data dir under
/var/lib/berth-test, runtime dir under /run/berth-test, socket, no TCP, the sim backend and
the dir storage driver on a small fake image; everything it made is removed. Prints one
table (bench/table.py). Run as root:

    cargo build --release -p berthd && python3 bench/rss.py [--runs 5] [--bin target/release]
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
from api import Api  # noqa: E402

MIB = 1024.0




def fake_image(cache):
    """A few files in the image cache's layout, so sim creates clone something small."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}[os.uname().machine]
    rootfs = f"{cache}/debian-12-{arch}/rootfs"
    for sub in ["etc/ssh/sshd_config.d", "etc/systemd/network", "root", "tmp", "usr/bin", "var/lib/dbus"]:
        os.makedirs(f"{rootfs}/{sub}", exist_ok=True)
    files = {"etc/hostname": "debian\n", "etc/hosts": "127.0.0.1\tlocalhost\n", "etc/machine-id": "\n",
             "etc/passwd": "root:x:0:0:root:/root:/bin/bash\n", "etc/shadow": "root:*:19000:0:99999:7:::\n",
             "etc/os-release": "ID=debian\n", "var/lib/dbus/machine-id": "0123456789abcdef0123456789abcdef\n"}
    for path, text in files.items():
        with open(f"{rootfs}/{path}", "w") as f:
            f.write(text)
    meta = {"format_version": 1, "alias": "debian/12", "arch": arch, "built_at": "2026-01-01T00:00:00Z",
            "size": 4096, "sources": [], "packages": None}
    with open(f"{cache}/debian-12-{arch}/image.json", "w") as f:
        json.dump(meta, f)


class Daemon(Api):
    def __init__(self, bindir, run_no):
        self.id = f"rss{os.getpid()}-{run_no}"
        self.data = f"/var/lib/berth-test/{self.id}"
        self.run = f"/run/berth-test/{self.id}"
        self.sock = f"{self.run}/berth.sock"
        os.makedirs(self.data, exist_ok=True)
        os.makedirs(self.run, exist_ok=True)
        fake_image(f"{self.data}/images")
        env = {
            "PATH": os.environ["PATH"], "BERTH_DATA_DIR": self.data, "BERTH_RUNTIME_DIR": self.run,
            "BERTH_SOCKET": self.sock, "BERTH_LISTEN": "[]", "BERTH_IMAGES__CACHE_DIR": f"{self.data}/images",
            "BERTH_LOG": "warn", "BERTH_DEFAULT_BACKEND": "sim", "BERTH_TESTING__SIM_BACKEND": "true",
            "BERTH_STORAGE__DRIVER": "dir", "BERTH_SECURITY__LXCFS": "false",
            "BERTH_HOST__RAISE_LIMITS": "false",
        }
        self.log = open(f"{self.data}/berthd.log", "ab")
        self.proc = subprocess.Popen([f"{bindir}/berthd", "--config", "/dev/null"], env=env,
                                     stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        for _ in range(600):
            try:
                self.call("GET", "/system")
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.cleanup()
        raise SystemExit("berthd did not start; see its log in " + self.data)

    def memory(self):
        """VmRSS, RssAnon and RssFile in KiB."""
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                key = line.split(":")[0]
                if key in ("VmRSS", "RssAnon", "RssFile"):
                    out[key] = int(line.split()[1])
        return out

    def cleanup(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.data, ignore_errors=True)
        shutil.rmtree(self.run, ignore_errors=True)


def burst(d, tag):
    """200 API calls: 8 logins as the first admin (each hashes with argon2: 19 MiB), then 24
    rounds of list, system, create (+wait), delete (+wait), list, system."""
    with open(f"{d.data}/initial-admin-password") as f:
        password = f.read().strip()
    calls = 0
    for _ in range(8):
        d.call("POST", "/auth/login", {"username": "admin", "password": password})
        calls += 1
    for i in range(24):
        name = f"r{tag}x{i}"
        d.call("GET", "/instances")
        d.call("GET", "/system")
        d.op("POST", "/instances", {"name": name, "image": "debian/12"})
        d.op("DELETE", f"/instances/{name}", {"force": True})
        d.call("GET", "/instances")
        d.call("GET", "/system")
        calls += 8
    return calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after the burst for the last sample")
    parser.add_argument("--bin", default=os.path.join(table.ROOT, "target/release"), help="directory with berthd")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (berthd manages system state)")
    run = table.Run(f"berthd RSS ({args.bin}/berthd, sim backend, {args.runs} fresh daemons)", profile="release")
    run.note("burst = 200 API calls: 8 logins, then 24 × (list, system, create+wait, delete+wait, list, system)")
    for n in range(args.runs):
        d = Daemon(args.bin, n)
        try:
            time.sleep(1)
            phases = [("idle, 1 s after start", d.memory())]
            calls = burst(d, n)
            assert calls == 200
            phases.append(("after the burst", d.memory()))
            time.sleep(args.settle)
            phases.append((f"{args.settle:g} s after the burst", d.memory()))
            for label, mem in phases:
                for key in ("VmRSS", "RssAnon", "RssFile"):
                    run.add(f"{key} {label}", "MiB", mem[key] / MIB)
        finally:
            d.cleanup()
    run.print()


if __name__ == "__main__":
    main()
