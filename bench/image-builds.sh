#!/usr/bin/env bash
# Image build time per image and architecture: each build from scratch (a fresh cache
# directory, removed after) with the build-image example, RUNS times, interleaved across the
# images given; prints one table (bench/table.py): n, p50, p99, max, the load average at start
# and at end, date and commit.
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
# BERTH_BENCH_BIN: another build of the example (its profile is named in the table: the time
# is mmdebstrap's and dpkg's, not the example's own).
bin=${BERTH_BENCH_BIN:-target/release/examples/build-image}
[ -x "$bin" ] || { echo "build it first: cargo build --release -p berth-image --examples" >&2; exit 1; }
profile=$(basename "$(dirname "$(dirname "$bin")")")
extra=()
[ -n "${BERTH_BENCH_NO_VALID_UNTIL:-}" ] && extra+=(--no-valid-until)

work=$(mktemp -d /var/tmp/berth-bench-images-XXXXXX)
trap 'rm -rf "$work"' EXIT
load_start=$(python3 bench/table.py --load)
for ((run = 1; run <= runs; run++)); do
  for spec in "${images[@]}"; do
    image=${spec%@*}; arch=${spec#*@}; [ "$arch" = "$spec" ] && arch=""
    cache="$work/cache-$run"
    args=("$image" "$cache" --force "${extra[@]}")
    [ -n "$arch" ] && args+=(--arch "$arch")
    start=$(date +%s.%N)
    "$bin" "${args[@]}" >/dev/null 2>"$work/last.log" || { echo "$spec failed:"; tail -3 "$work/last.log"; exit 1; }
    end=$(date +%s.%N)
    awk -v s="$spec" -v a="$start" -v b="$end" 'BEGIN {printf "build of %s from scratch\ts\t%.3f\n", s, b - a}' >> "$work/times"
    rm -rf "$cache"
  done
done
python3 bench/table.py --title "bench/image-builds.sh $runs ${images[*]}" --profile "$profile" \
  --load-start "$load_start" --note "each build in a fresh cache directory, images interleaved per round" < "$work/times"
