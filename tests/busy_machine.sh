#!/usr/bin/env bash
# The whole ctest suite while another process keeps every core busy: a verdict must not depend
# on the machine's speed. Starts one spinning shell per core at normal priority (what a
# neighbour's build does to us), runs ctest in an already built BUILD_DIR ROUNDS times in a row
# (default 2), prints each round's result and how busy the hogs kept the CPU, and stops them.
#
#   tests/busy_machine.sh                 two rounds of the whole suite
#   ROUNDS=1 tests/busy_machine.sh -L unit   extra arguments go to ctest
#
# Exit status: 0 when every round passed.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${BUILD_DIR:-build}"
rounds="${ROUNDS:-2}"
jobs="${JOBS:-2}"
cores=$(nproc)
[ -f "$build_dir/CTestTestfile.cmake" ] || { echo "build first: $build_dir" >&2; exit 2; }

hogs=()
stop_hogs() {
  [ ${#hogs[@]} -eq 0 ] || kill "${hogs[@]}" 2> /dev/null || true
  wait 2> /dev/null || true
}
trap stop_hogs EXIT
for _ in $(seq "$cores"); do
  sh -c 'while :; do :; done' &
  hogs+=($!)
done

# CPU seconds the hogs used (utime + stime of each, from /proc).
hog_seconds() {
  local total=0 pid
  for pid in "${hogs[@]}"; do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", t / hz }'
}

failed=0
for round in $(seq "$rounds"); do
  before=$(hog_seconds)
  start=$(date +%s)
  rc=0
  (cd "$build_dir" && ctest --output-on-failure -j "$jobs" "$@") > "$build_dir/busy-round-$round.log" 2>&1 || rc=$?
  wall=$(($(date +%s) - start))
  used=$(($(hog_seconds) - before))
  summary=$(grep -E 'tests passed|tests failed' "$build_dir/busy-round-$round.log" | tail -1)
  echo "round $round: ${summary:-no summary} in ${wall} s; the $cores hogs used ${used} CPU s" \
    "($(awk -v u="$used" -v w="$wall" -v c="$cores" 'BEGIN { printf "%.0f", 100 * u / (w * c) }') % of all cores)"
  if [ "$rc" != 0 ]; then
    failed=1
    grep -E '^\s+[0-9]+ - ' "$build_dir/busy-round-$round.log" || true
  fi
done
exit "$failed"
