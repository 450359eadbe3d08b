#!/usr/bin/env python3
"""Start-to-exit of a container running /bin/true: Berth's builtin runtime (libcontainer via the
shim, full system-container spec, privileged) beside its peers on this host — crun and runc
(their default `spec`, same rootfs, read-only), raw systemd-nspawn and raw lxc-execute — run
round-robin (builtin 1, crun 1, runc 1, nspawn 1, lxc 1, builtin 2, …), each timed from outside
as a whole process. Each round also runs one builtin systemd guest cycle (start, boot to
is-system-running, exec, stop). Prints one table (bench/table.py). Root; release build:

    cargo build --release -p berth-runtime --bins --examples && bench/runtimes.sh [RUNS]

Options: `--baseline DIR` also runs an earlier build's bench_true (DIR is its release
directory: DIR/examples/bench_true and DIR/berth-shim, e.g. a copy of target/release made
before a change) right after the current one in each round, so before and after are measured
in the same run; `--peers crun,runc` runs only those peers (names as in the rows: crun, runc,
systemd-nspawn, lxc-execute; `--peers ''` none); `--no-systemd` skips the systemd guest cycle.
"""
import argparse
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import table  # noqa: E402

ROOT = table.ROOT
TRUE = "start → exit of /bin/true"


def version(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True).stdout.split("\n")[0]
    return out.split()[-1] if out else "?"


class HiddenCgroup2:
    """A mount namespace, held by a `sleep`, in which /sys/fs/cgroup/unified (the hybrid
    layout's cgroup2) is unmounted: crun refuses the hybrid layout otherwise, and runc runs
    there too so both see the same. Runners join it with setns(2) between fork and exec, so
    their timing carries no extra process."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             "if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi; "
             "echo ready; exec sleep infinity"],
            stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("could not prepare the mount namespace for crun/runc")
        self.fd = os.open(f"/proc/{self.proc.pid}/ns/mnt", os.O_RDONLY)
        libc = ctypes.CDLL(None, use_errno=True)
        fd = self.fd

        def enter():
            if libc.setns(fd, 0) != 0:
                os._exit(126)
        self.enter = enter

    def close(self):
        os.close(self.fd)
        self.proc.kill()
        self.proc.wait()


def peers(work, truefs, ns, wanted=None):
    """(row name, argv, preexec) of every peer that can run here (of `wanted`, when given);
    prints why one is skipped."""
    found = []
    for rt in ("crun", "runc"):
        if wanted is not None and rt not in wanted:
            continue
        if not shutil.which(rt):
            print(f"skipped {rt}: not installed", file=sys.stderr)
            continue
        bundle = f"{work}/bundle-{rt}"
        os.makedirs(bundle)
        subprocess.run([rt, "spec"], cwd=bundle, check=True)
        with open(f"{bundle}/config.json") as f:
            spec = json.load(f)
        spec["process"]["args"] = ["/bin/true"]
        spec["process"]["terminal"] = False
        spec["root"] = {"path": truefs, "readonly": True}
        with open(f"{bundle}/config.json", "w") as f:
            json.dump(spec, f)
        found.append((f"{TRUE}: {rt} {version([rt, '--version'])} (`{rt} run`, its default spec)",
                      lambda i, rt=rt, bundle=bundle: [rt, "run", "--bundle", bundle, f"bench-{rt}-{os.getpid()}-{i}"],
                      ns.enter))
    if wanted is not None and "systemd-nspawn" not in wanted:
        pass
    elif shutil.which("systemd-nspawn"):
        found.append((f"{TRUE}: systemd-nspawn {version(['systemd-nspawn', '--version']).strip('()')} "
                      "(--register=no --keep-unit --private-network)",
                      lambda i: ["systemd-nspawn", "--register=no", "--keep-unit", "--private-network", "-q",
                                 "-D", truefs, "/bin/true"],
                      None))
    else:
        print("skipped systemd-nspawn: not installed", file=sys.stderr)
    if wanted is not None and "lxc-execute" not in wanted:
        pass
    elif shutil.which("lxc-execute"):
        os.makedirs(f"{work}/lxc")
        with open(f"{work}/lxc.conf", "w") as f:
            f.write(f"lxc.uts.name = bench\nlxc.rootfs.path = dir:{truefs}\nlxc.net.0.type = empty\n"
                    "lxc.mount.auto = proc:mixed sys:ro cgroup:mixed\nlxc.apparmor.profile = unconfined\n")
        found.append((f"{TRUE}: lxc-execute {version(['lxc-execute', '--version'])} (empty network, init.lxc)",
                      lambda i: ["lxc-execute", "-n", f"bench-{os.getpid()}-{i}", "-P", f"{work}/lxc",
                                 "-f", f"{work}/lxc.conf", "--", "/bin/true"],
                      None))
    else:
        print("skipped lxc-execute: not installed", file=sys.stderr)
    return found


def timed(argv, preexec=None):
    t0 = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
    elapsed = (time.perf_counter() - t0) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return elapsed, done.stdout


def main():
    ap = argparse.ArgumentParser(description="/bin/true start to exit: builtin beside its peers")
    ap.add_argument("runs", nargs="?", type=int, default=20)
    ap.add_argument("--baseline", help="release directory of an earlier build to run too")
    ap.add_argument("--peers", help="comma-separated peers to run (default: all found)")
    ap.add_argument("--no-systemd", action="store_true", help="skip the systemd guest cycle")
    args = ap.parse_args()
    runs = args.runs
    wanted = None if args.peers is None else {p for p in args.peers.split(",") if p}
    source = os.environ.get("BERTH_BENCH_ROOTFS", "/var/cache/berth-test/images/debian-12-amd64/rootfs")
    bench_true = f"{ROOT}/target/release/examples/bench_true"
    if not os.path.isdir(source):
        raise SystemExit(f"no image at {source}: run the tests or 'berth image build debian/12' first")
    if not os.access(bench_true, os.X_OK):
        raise SystemExit("build it first: cargo build --release -p berth-runtime --bins --examples")
    baseline = None
    if args.baseline:
        baseline = os.path.join(os.path.abspath(args.baseline), "examples", "bench_true")
        if not os.access(baseline, os.X_OK):
            raise SystemExit(f"--baseline: no {baseline}")
    run = table.Run("bench/runtimes.sh " + " ".join(sys.argv[1:]), "release")
    work = tempfile.mkdtemp(prefix="berth-bench-", dir="/var/tmp")
    ns = None
    try:
        truefs, systemdfs = f"{work}/true", f"{work}/systemd"
        for dest in (truefs, systemdfs):
            subprocess.run(["cp", "-a", "--reflink=auto", source, dest], check=True)
        os.remove(f"{truefs}/sbin/init")
        os.symlink("/bin/true", f"{truefs}/sbin/init")
        ns = HiddenCgroup2()
        order = [(f"{TRUE}: builtin (`bench_true true`)", lambda i: [bench_true, "true", truefs, work], None)]
        if baseline:
            order.append((f"{TRUE}: builtin-baseline ({args.baseline}, `bench_true true`)",
                          lambda i: [baseline, "true", truefs, work], None))
        order += peers(work, truefs, ns, wanted)
        run.note(f"{runs} rounds; each round runs, in this order: "
                 + ", ".join(row.split(": ", 1)[1].split(" ")[0] for row, _, _ in order)
                 + ("" if args.no_systemd else ", then one builtin systemd guest cycle") + ".")
        run.note(f"\"{TRUE}\" rows are timed from outside, whole process (fork + exec of the runner "
                 "included, until it has exited); the in-process row is bench_true's own clock inside "
                 "that builtin process. crun and runc run in a mount namespace without "
                 "/sys/fs/cgroup/unified. All privileged (no user namespace), same rootfs copy.")
        for i in range(runs):
            for what, argv, preexec in order:
                elapsed, out = timed(argv(i), preexec)
                run.add(what, "ms", elapsed)
                for line in out.splitlines():
                    cols = line.split("\t")
                    what = cols[0]
                    if argv(i)[0] == baseline:
                        what = what.replace("builtin,", "builtin-baseline,", 1)
                    run.add(what, cols[1], cols[2])
            if args.no_systemd:
                continue
            _, out = timed([bench_true, "systemd", systemdfs, work])
            for line in out.splitlines():
                cols = line.split("\t")
                run.add(cols[0], cols[1], cols[2])
    finally:
        if ns:
            ns.close()
        shutil.rmtree(work, ignore_errors=True)
    run.print()


if __name__ == "__main__":
    main()
