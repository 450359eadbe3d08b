#!/usr/bin/env bash
# Start-to-exit of a /bin/true container: builtin vs crun, runc, systemd-nspawn, lxc-execute,
# interleaved round-robin, one table per run; the work is in bench/runtimes.py. Root; release:
#   cargo build --release -p berth-runtime --bins --examples && bench/runtimes.sh [RUNS]
exec python3 "$(dirname "$0")/runtimes.py" "$@"
