#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and API tests, and the real-container tests (root).
# Built images are cached in /var/cache/berth-test/images between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "test.sh: run as root: the tests create real containers" >&2; exit 1; }
export BERTH_TEST_IMAGE_CACHE=${BERTH_TEST_IMAGE_CACHE:-/var/cache/berth-test/images}

echo "==> web UI: npm ci, OpenAPI types, type check, bundle (embedded into berthd)"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
# The metrics tests parse /metrics with Prometheus' own parser and send alert email to a real
# SMTP server (aiosmtpd); the API fuzzing test runs schemathesis. scripts/setup.sh makes this
# venv; this makes it (or adds what is missing) when needed.
if [ ! -x /opt/berth-test/venv/bin/st ]; then
  echo "==> test helpers (/opt/berth-test/venv: prometheus_client, aiosmtpd, schemathesis)"
  [ -x /opt/berth-test/venv/bin/python3 ] || python3 -m venv /opt/berth-test/venv
  /opt/berth-test/venv/bin/pip install -q --disable-pip-version-check prometheus_client aiosmtpd \
    schemathesis==4.32.5
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
# The end-to-end tests drive the real CLI binary beside berthd, and the browser tests the PVE
# double: build them first (cargo test builds only test harnesses of bin crates, not the
# binaries other packages' tests run). `--bins`, not `--bin NAME`: naming one binary builds
# only that one, and the CLI would be missing (CI failed so).
cargo build --locked -p berth -p berthd -p berth-proxmox --bins
for bin in berth berthd berth-pve-double; do
  [ -x "target/debug/$bin" ] || { echo "test.sh: target/debug/$bin was not built" >&2; exit 1; }
done
cargo test --workspace --locked -- --test-threads=2
echo "==> web UI in Chromium against a real berthd"
(cd web && npm test)
