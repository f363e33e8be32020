#!/usr/bin/env bash
# The test command: installs dependencies (as root, or via sudo), configures, builds with
# two jobs and runs every test. CI runs exactly this (.ci/run).
#
#   tests/run.sh              everything, the fuzz targets too (tests/fuzz/run.sh)
#   tests/run.sh -L unit      pass extra arguments to ctest (here: unit tests only)
#
# BUILD_DIR (default: build) and BUILD_TYPE (default: RelWithDebInfo) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${BUILD_DIR:-build}"
build_type="${BUILD_TYPE:-RelWithDebInfo}"
jobs="${JOBS:-2}"

deploy/install-deps.sh

# TimescaleDB for the tests labelled `timescaledb`, built from ../shared/vendor once per machine
# (cached). Under CI it must work; elsewhere a machine without the tarball (exit 77) runs the
# rest, and those tests skip saying why.
tsdb_rc=0
tests/support/timescaledb/install-timescaledb.sh || tsdb_rc=$?
if [ "$tsdb_rc" = 77 ] && [ "${CI:-}" != true ]; then
  echo "tests/run.sh: no TimescaleDB tarball here (../shared/vendor): the timescaledb tests will skip"
elif [ "$tsdb_rc" != 0 ]; then
  echo "tests/run.sh: installing TimescaleDB failed (exit $tsdb_rc)" >&2
  exit 1
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type"
fi

# Paths relative to the checkout in ccache's keys, so clones at other paths (and the image
# test's container build in /src, when its packages are this host's versions) share entries.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
start=$(date +%s)
cmake --build "$build_dir" -j "$jobs"
echo "tests/run.sh: build took $(( $(date +%s) - start )) s"

rc=0
(cd "$build_dir" && ctest --output-on-failure -j "$jobs" "$@") || rc=$?
# What the image tests measured (phase times, the image size): ctest keeps passing output only
# in its log.
grep -hE '^(timing|image size):' "$build_dir/Testing/Temporary/LastTest.log" 2>/dev/null || true
[ $rc = 0 ] || exit $rc
# The whole run also fuzzes: a clang build of the libFuzzer targets, each for 30 s.
if [ $# -eq 0 ]; then
  JOBS="$jobs" tests/fuzz/run.sh
fi
