#!/usr/bin/env bash
# Start-to-exit of a container running /bin/true: Berth's builtin runtime (libcontainer via the
# shim, full system-container spec) beside crun and runc (their default `spec`, same rootfs)
# when installed, plus the builtin's systemd boot/stop/exec latencies. Root; release build:
#   cargo build --release -p berth-runtime --bins --examples && bench/runtimes.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
rootfs=${BERTH_BENCH_ROOTFS:-/var/cache/berth-test/images/debian-12-amd64/rootfs}
[ -d "$rootfs" ] || { echo "no image at $rootfs: run the tests or 'berth image build debian/12' first" >&2; exit 1; }

echo "== builtin (berth-runtime, release), $runs runs"
target/release/examples/bench_true "$rootfs" "$runs"

work=$(mktemp -d /var/tmp/berth-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle"
cp -a --reflink=auto "$rootfs" "$work/bundle/rootfs"

stats() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.99+0.5); if (i<1) i=1; printf "start -> exit of /bin/true: p50 %.1f ms, p99 %.1f ms (n=%d)\n", a[int((NR+1)/2)]/1e6, a[i]/1e6, NR}'; }

for rt in crun runc; do
  command -v "$rt" >/dev/null || { echo "== $rt: not installed"; continue; }
  (cd "$work/bundle" && rm -f config.json && "$rt" spec)
  # /bin/true, no terminal, read-only root.
  jq '.process.args = ["/bin/true"] | .process.terminal = false | .root.path = "rootfs" | .root.readonly = true' \
    "$work/bundle/config.json" > "$work/bundle/config.tmp" && mv "$work/bundle/config.tmp" "$work/bundle/config.json"
  echo "== $rt $("$rt" --version | head -1), $runs runs"
  # crun refuses the v1 hybrid layout unless the v2 mount is hidden: do that in a private
  # mount namespace for both, so they run under the same conditions.
  unshare -m bash -c '
    set -e
    if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi
    for i in $(seq '"$runs"'); do
      s=$(date +%s%N); '"$rt"' run --bundle '"$work/bundle"' bench-'"$rt"'-$$-$i >/dev/null; e=$(date +%s%N)
      echo $((e - s))
    done' | stats
done
