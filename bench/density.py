#!/usr/bin/env python3
"""Density: how many idle debian/12 guests this host holds, and whether every one is still
alive a minute after the last launch. Starts its own berthd (bench.py's Daemon: unique data
dir, socket, bridge, nftables table; a /20 subnet here so 500+ guests get an address), launches
GUESTS guests in batches of BATCH concurrent launches, waits SETTLE seconds after the last one,
then asks every guest's systemd `is-system-running` (running or degraded counts as alive) and
berthd for its state. Prints one table (bench/table.py): launch times, launch rate per batch,
berthd RSS and CPU, host MemAvailable per guest, the survival count; then deletes everything.
Run as root:

    cargo build --release -p berthd -p berth && python3 bench/density.py --guests 500 --batch 25
    python3 bench/density.py --guests 128 --batch 128     # 128 concurrent launches
"""
import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import table  # noqa: E402
from bench import Daemon, ms  # noqa: E402

ROOT = table.ROOT


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """utime + stime of `pid`, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def launch(d, name, memory):
    """One launch through the API (create + start, until the operation ends): seconds, or the
    error's text."""
    t0 = time.monotonic()
    try:
        d.op("POST", "/instances", {"name": name, "image": "debian/12", "limits": {"memory": memory}})
        return name, time.monotonic() - t0, None
    except Exception as err:  # a failed launch is a result here, not the end of the run
        return name, time.monotonic() - t0, str(err)


def delete(d, name):
    """delete --force; whether it went (a failure is printed, the run goes on)."""
    try:
        d.op("DELETE", f"/instances/{name}", {"force": True})
        return True
    except Exception as err:
        print(f"{name}: delete: {err}", file=sys.stderr)
        return False


def alive(d, name):
    """What the guest's systemd says (`running`/`degraded` = alive), or why it could not say."""
    try:
        state = d.call("GET", f"/instances/{name}")["state"]
        if state != "running":
            return f"berthd: {state}"
        out = d.call("POST", f"/instances/{name}/exec",
                     {"command": ["systemctl", "is-system-running"], "timeout": 30})
        return out["stdout"].strip() or out.get("stderr", "").strip()
    except Exception as err:
        return f"error: {err}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bindir", default=f"{ROOT}/target/release")
    parser.add_argument("--cache", default=os.environ.get("BERTH_TEST_IMAGE_CACHE", "/var/cache/berth-test/images"))
    parser.add_argument("--guests", type=int, default=500)
    parser.add_argument("--batch", type=int, default=25, help="launches sent at once")
    parser.add_argument("--settle", type=int, default=60, help="seconds to wait after the last launch")
    parser.add_argument("--memory", type=int, default=256 * 2**20, help="each guest's memory limit, bytes")
    parser.add_argument("--ipv4", default=f"10.{200 + os.getpid() % 50}.0.1/20")
    args = parser.parse_args()

    run = table.Run("bench/density.py " + " ".join(sys.argv[1:]), os.path.basename(os.path.normpath(args.bindir)))
    d = Daemon(args.bindir, args.cache, {"BERTH_NETWORK__IPV4": args.ipv4,
                                         "BERTH_STORAGE__POOL_SIZE": "200GiB"})
    names = [f"d{i}" for i in range(args.guests)]
    try:
        time.sleep(1)
        d.op("POST", "/images", {"image": "debian/12"})
        system = d.call("GET", "/system")
        run.note("berthd " + ", ".join(f"{k} {system.get(k)}" for k in ("version", "kernel", "cgroup", "storage_driver", "cpus"))
                 + f"; {args.guests} idle debian/12 guests, {args.batch} launches at once, "
                 + f"memory limit {args.memory // 2**20} MiB, subnet {args.ipv4}")
        rss0, mem0, cpu0 = d.rss_kib(), mem_available_kib(), cpu_seconds(d.proc.pid)
        run.add("berthd RSS before the first launch", "MiB", rss0 / 1024)
        failed = {}
        t_all = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.batch) as pool:
            for start in range(0, args.guests, args.batch):
                batch = names[start:start + args.batch]
                t0 = time.monotonic()
                for name, seconds, error in pool.map(lambda n: launch(d, n, args.memory), batch):
                    run.add(f"launch in a batch of {args.batch} (create + start, init running)", "ms", ms(seconds))
                    if error:
                        failed[name] = error
                run.add(f"launch rate per batch of {args.batch}", "guests/s", len(batch) / (time.monotonic() - t0))
        total = time.monotonic() - t_all
        run.add(f"{args.guests} guests launched, total", "s", total)
        run.add(f"{args.guests} guests launched, whole-run rate", "guests/s", args.guests / total)
        time.sleep(args.settle)
        with ThreadPoolExecutor(max_workers=8) as pool:
            states = dict(zip(names, pool.map(lambda n: alive(d, n), names)))
        up = [n for n, s in states.items() if s in ("running", "degraded")]
        run.note(f"alive {args.settle} s after the last launch (systemd running/degraded): {len(up)} of {args.guests}; "
                 f"launch errors: {len(failed)}")
        counts = {}
        for state in states.values():
            counts[state] = counts.get(state, 0) + 1
        run.note("what each guest's systemd said: " + ", ".join(f"{s} {n}" for s, n in sorted(counts.items())))
        for name, state in states.items():
            if name not in up:
                print(f"{name}: {state}; launch: {failed.get(name, 'ok')}", file=sys.stderr)
        run.add("guests alive after the settle time", "guests", len(up))
        run.add(f"berthd RSS with {args.guests} running", "MiB", d.rss_kib() / 1024)
        run.add("berthd CPU time, launches and checks", "s", cpu_seconds(d.proc.pid) - cpu0)
        run.add("host MemAvailable used per guest (whole host: quiet it first)", "MiB",
                (mem0 - mem_available_kib()) / 1024 / args.guests)
        for _ in range(5):
            t0 = time.monotonic()
            d.call("GET", "/instances")
            run.add(f"GET /instances with {args.guests}", "ms", ms(time.monotonic() - t0))
        launched = [n for n in names if n not in failed]
        with ThreadPoolExecutor(max_workers=8) as pool:
            gone = list(pool.map(lambda n: delete(d, n), launched))
        run.note(f"deleted {sum(gone)} of {len(launched)} launched")
        time.sleep(5)
        run.add("berthd RSS after deleting them all", "MiB", d.rss_kib() / 1024)
    finally:
        try:
            d.cleanup()
        finally:
            run.print()


if __name__ == "__main__":
    main()
