#!/usr/bin/env bash
# Image build time per image and architecture: each build from scratch (a fresh cache
# directory, removed after) with the build-image example, RUNS times, interleaved across the
# images given; prints n, p50, p99, max, the load average before and after, date and commit.
# Root; release build:
#   cargo build --release -p berth-image --examples
#   bench/image-builds.sh [RUNS] [IMAGE[@ARCH]]...   e.g. 3 debian/12 debian/12@arm64 debian/sid
# Set BERTH_BENCH_NO_VALID_UNTIL=1 for a frozen mirror (expired Valid-Until; signatures kept).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(debian/12)
bin=target/release/examples/build-image
[ -x "$bin" ] || { echo "build it first: cargo build --release -p berth-image --examples" >&2; exit 1; }
extra=()
[ -n "${BERTH_BENCH_NO_VALID_UNTIL:-}" ] && extra+=(--no-valid-until)

work=$(mktemp -d /var/tmp/berth-bench-images-XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "date $(date -u +%FT%TZ)  commit $(git rev-parse --short HEAD)  load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((run = 1; run <= runs; run++)); do
  for spec in "${images[@]}"; do
    image=${spec%@*}; arch=${spec#*@}; [ "$arch" = "$spec" ] && arch=""
    cache="$work/cache-$run"
    args=("$image" "$cache" --force "${extra[@]}")
    [ -n "$arch" ] && args+=(--arch "$arch")
    start=$(date +%s.%N)
    "$bin" "${args[@]}" >/dev/null 2>"$work/last.log" || { echo "$spec failed:"; tail -3 "$work/last.log"; exit 1; }
    end=$(date +%s.%N)
    awk -v s="$spec" -v a="$start" -v b="$end" 'BEGIN {printf "%s %.3f\n", s, b - a}' >> "$work/times"
    rm -rf "$cache"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-22s %3s %9s %9s %9s\n" "image@arch" n p50_s p99_s max_s
for spec in "${images[@]}"; do
  grep "^$spec " "$work/times" | awk '{print $2}' | sort -n | awk -v s="$spec" '
    {a[NR]=$1} END {i=int(NR*0.99+0.5); if (i<1) i=1;
      printf "%-22s %3d %9.1f %9.1f %9.1f\n", s, NR, a[int((NR+1)/2)], a[i], a[NR]}'
done
