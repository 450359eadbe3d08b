#!/usr/bin/env python3
"""The one table every bench/ script prints per run: a header line (date UTC, commit, build
profile, load average at start and at end from /proc/loadavg), optional note lines, then a
markdown table `what | n | p50 | p99 | max | unit`, rows in the order they were first measured.

From Python: `run = table.Run("what this run measures", profile="release")`, then
`run.add(what, unit, value)` per sample and `run.print()` at the end. From a shell script:

    load=$(python3 bench/table.py --load)      # at the start of the run
    ... print samples as `what<TAB>unit<TAB>value` lines ...
    python3 bench/table.py --title T --profile release --load-start "$load" [--note N]... < samples

p50 and p99 are nearest-rank on the sorted samples (index round(p/100 * (n-1))): with n < 100
the p99 is the slowest or second slowest sample.
"""
import argparse
import datetime
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def loadavg():
    """The 1, 5 and 15 minute load averages, as /proc/loadavg has them."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def commit():
    """`git rev-parse --short HEAD`, with `-dirty` when tracked files differ from it."""
    def git(*args):
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
    head = git("rev-parse", "--short", "HEAD").stdout.strip() or "unknown"
    return head + ("-dirty" if git("diff", "--quiet", "HEAD").returncode == 1 else "")


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def fmt(value):
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


class Run:
    def __init__(self, title, profile, load_start=None):
        self.title = title
        self.profile = profile
        self.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.load_start = load_start or loadavg()
        self.notes = []
        self.rows = {}  # what -> (unit, samples); dicts keep insertion order

    def note(self, text):
        self.notes.append(text)

    def add(self, what, unit, value):
        unit_seen, samples = self.rows.setdefault(what, (unit, []))
        if unit_seen != unit:
            raise ValueError(f"row {what!r}: unit {unit!r}, but earlier samples were in {unit_seen!r}")
        samples.append(float(value))

    def print(self, out=sys.stdout):
        print(f"{self.title} — {self.date}, commit {commit()}, {self.profile} build, "
              f"load {self.load_start} at start, {loadavg()} at end (1/5/15 min)", file=out)
        for text in self.notes:
            print(f"  {text}", file=out)
        print(file=out)
        print("| what | n | p50 | p99 | max | unit |", file=out)
        print("|---|---:|---:|---:|---:|---|", file=out)
        for what, (unit, samples) in self.rows.items():
            print(f"| {what} | {len(samples)} | {fmt(pct(samples, 50))} | {fmt(pct(samples, 99))} "
                  f"| {fmt(max(samples))} | {unit} |", file=out)
        out.flush()


def main():
    parser = argparse.ArgumentParser(description="print one bench table from `what<TAB>unit<TAB>value` lines on stdin")
    parser.add_argument("--load", action="store_true", help="only print the load average now (for --load-start)")
    parser.add_argument("--title", default="bench")
    parser.add_argument("--profile", default="release")
    parser.add_argument("--load-start")
    parser.add_argument("--note", action="append", default=[])
    args = parser.parse_args()
    if args.load:
        print(loadavg())
        return
    run = Run(args.title, args.profile, args.load_start)
    for text in args.note:
        run.note(text)
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        cols = line.rstrip("\n").split("\t")
        if len(cols) != 3:
            raise SystemExit(f"stdin line {number}: want what<TAB>unit<TAB>value, got {line!r}")
        run.add(cols[0], cols[1], cols[2])
    run.print()


if __name__ == "__main__":
    main()
