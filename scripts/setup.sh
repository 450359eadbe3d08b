#!/usr/bin/env bash
# Installs what Berth needs on a Debian 12 host, builds it, packages it (scripts/build-deb.sh),
# installs the package and starts berthd. Safe to run again: it updates and restarts.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root (berthd manages cgroups, mounts and networks)" >&2; exit 1; }

echo "==> Debian packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  build-essential pkg-config libseccomp-dev \
  mmdebstrap debootstrap arch-test debian-archive-keyring qemu-user-static gnupg \
  btrfs-progs xfsprogs util-linux e2fsprogs iproute2 nftables procps psmisc \
  ca-certificates curl sqlite3 jq openssh-client sshpass python3 python3-venv \
  chromium fonts-dejavu-core \
  systemd-container crun runc lxc busybox-static \
  dpkg-dev groff-base zsh fish >/dev/null
# Unprivileged guests: lxcfs gives each its own /proc and /sys view (berthd runs its own
# instance under its runtime dir); xfsprogs for the idmapped-mount tests on xfs.
apt-get install -y -qq --no-install-recommends lxcfs xfsprogs >/dev/null
# The Proxmox SSH tests (crates/berthd/tests/sim/proxmox_ssh.rs) run their own sshd on a loopback
# port (the package also enables its own on port 22, as on most servers).
apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
# The web UI is built with Node.js and npm: the host's own when it has them (a nodejs package
# that bundles npm conflicts with Debian's npm), Debian's otherwise. The browser tests need
# Node.js 20 or newer (playwright-core).
command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null

# The test suite's Python helpers: a real Prometheus text parser, a loopback SMTP server and
# schemathesis (the API fuzzing test).
echo "==> Test helpers (/opt/berth-test/venv: prometheus_client, aiosmtpd, schemathesis)"
[ -x /opt/berth-test/venv/bin/python3 ] || python3 -m venv /opt/berth-test/venv
/opt/berth-test/venv/bin/pip install -q --disable-pip-version-check prometheus_client aiosmtpd \
  schemathesis==4.32.5

command -v cargo >/dev/null || { echo "setup.sh: cargo is missing; install Rust 1.95 with rustup first" >&2; exit 1; }
[ -e /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200 || true; }

echo "==> Building the web UI (web/dist, embedded into berthd)"
# Debian's Chromium drives the browser tests: never download one.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)

echo "==> Building Berth (release)"
cargo build --release --locked -p berthd -p berth

echo "==> Building and installing the Debian package (berthd, berth, berthd.service, completions, man pages)"
deb=$(./scripts/build-deb.sh)
# Earlier versions of this script installed into /usr/local/bin, which comes first in PATH.
rm -f /usr/local/bin/berthd /usr/local/bin/berth /etc/systemd/system/berthd.service
# dpkg -i reinstalls the same version too (apt would skip it); the packages above satisfy
# its dependencies.
dpkg -i "$deb" >/dev/null

echo "==> Starting berthd"
if [ -d /run/systemd/system ]; then
  # The package's postinst enabled and (re)started berthd.service.
  systemctl is-active --quiet berthd || systemctl restart berthd
else
  # No systemd as PID 1 (containers, CI): run it in the background. Instances survive this
  # restart; berthd finds them again.
  if [ -f /run/berth/berthd.pid ] && kill -0 "$(cat /run/berth/berthd.pid)" 2>/dev/null; then
    kill "$(cat /run/berth/berthd.pid)"
    for _ in $(seq 50); do kill -0 "$(cat /run/berth/berthd.pid)" 2>/dev/null || break; sleep 0.1; done
  fi
  install -d -m 0755 /run/berth /var/log/berth
  setsid nohup /usr/bin/berthd >>/var/log/berth/berthd.log 2>&1 </dev/null &
  echo $! > /run/berth/berthd.pid
fi

for _ in $(seq 100); do
  if berth system >/dev/null 2>&1; then
    echo "==> berthd is running: try 'berth image build debian/12' then 'berth launch debian/12 web1'"
    exit 0
  fi
  sleep 0.2
done
echo "setup.sh: berthd did not answer; see /var/log/berth/berthd.log (or journalctl -u berthd)" >&2
exit 1
