#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for PGSHIP_FUZZ_SECONDS
# (default 30) under ctest, then prints one line per target with its executions.
#
#   tests/fuzz/run.sh                 every target
#   tests/fuzz/run.sh -R fuzz_cron    extra arguments go to ctest
#
# FUZZ_BUILD_DIR (default: build-fuzz) and JOBS (default: 2) may be set. The run length is a
# cache variable: cmake -B build-fuzz -DPGSHIP_FUZZ_SECONDS=300.
set -euo pipefail
cd "$(dirname "$0")/../.."

build_dir="${FUZZ_BUILD_DIR:-build-fuzz}"
jobs="${JOBS:-2}"
total_start=$(date +%s)

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGSHIP_FUZZ=ON -DPGSHIP_BUILD_TESTS=OFF \
    -DPGSHIP_WERROR=OFF
fi

build_start=$(date +%s)
cmake --build "$build_dir" -j "$jobs" --target pgship_fuzz
echo "tests/fuzz/run.sh: build took $(($(date +%s) - build_start)) s"

rm -f "$build_dir"/fuzz/*/log.txt
status=0
ctest --test-dir "$build_dir" -L fuzz --output-on-failure -j "$jobs" "$@" || status=$?

echo "tests/fuzz/run.sh: executions per target"
for log in "$build_dir"/fuzz/*/log.txt; do
  [ -f "$log" ] || continue
  name=$(basename "$(dirname "$log")")
  execs=$(awk '/^stat::number_of_executed_units:/ {v = $2} END {print v}' "$log")
  rate=$(awk '/^stat::average_exec_per_sec:/ {v = $2} END {print v}' "$log")
  verdict=ok
  if grep -qE '^==[0-9]+==ERROR|runtime error:|^SUMMARY: libFuzzer|deadly signal' "$log"; then
    verdict="FAILED (see $log and $(dirname "$log")/artifacts/)"
  fi
  printf '  %-24s %10s execs %8s/s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "$verdict"
done
echo "tests/fuzz/run.sh: total wall time $(($(date +%s) - total_start)) s"
exit "$status"
