#!/usr/bin/env bash
# Daemon steadiness benchmark: `pgship-agent run` with a one-second schedule against a tiny
# database and a real receiver for DURATION seconds (default 60). Prints RSS, open file
# descriptors and threads after a warm-up and at the end (they must not grow), the CPU seconds
# the daemon used, and how many runs it completed. Not a pass/fail test.
#
#   DURATION=60 BUILD_DIR=build bench/daemon_idle.sh
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${DURATION:-60}"
build_dir="${BUILD_DIR:-build}"
pg_bin=/usr/lib/postgresql/15/bin
agent="$build_dir/agent/pgship-agent"
receiver="$build_dir/receiver/pgship-receiver"
[ -x "$agent" ] && [ -x "$receiver" ] || { echo "build first" >&2; exit 1; }

work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/pgship-idle-XXXXXX")"
as_owner=()
if [ "$(id -u)" = 0 ]; then as_owner=(runuser -u postgres --); chown postgres: "$work"; fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$work/data" stop -m immediate > /dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A throwaway cluster; local socket connections are trusted, which is all the agent needs.
"${as_owner[@]}" "$pg_bin/initdb" -D "$work/data" -U postgres --auth=trust --no-sync > /dev/null
pg_port=$((20000 + RANDOM % 40000))
"${as_owner[@]}" "$pg_bin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
  -o "-p $pg_port -k $work -c listen_addresses=''" start > /dev/null
"$pg_bin/psql" -X -q -h "$work" -p "$pg_port" -U postgres -c 'CREATE DATABASE tiny'
"$pg_bin/psql" -X -q -h "$work" -p "$pg_port" -U postgres -d tiny \
  -c 'CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 1000) g'

BACKUP_API_TOKEN=bench STORAGE_DIR="$work/storage" PORT=0 LISTEN_ADDR=127.0.0.1 \
  MIN_FREE_BYTES=1M LOG_LEVEL=warn "$receiver" > "$work/receiver.port" 2> "$work/receiver.log" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/receiver.port" 2>/dev/null && break; sleep 0.1; done
rx_port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/receiver.port")

cat > "$work/agent.env" <<ENV
POSTGRES_HOST=$work
POSTGRES_PORT=$pg_port
POSTGRES_DB=tiny
POSTGRES_USER=postgres
BACKUP_DIR=$work/backups
KEEP_LOCAL_BACKUPS=3
BACKUP_API_URL=http://127.0.0.1:$rx_port
BACKUP_API_TOKEN=bench
SCHEDULE=* * * * * *
HEALTHCHECK_PORT=0
LISTEN_ADDR=127.0.0.1
LOG_LEVEL=warn
ENV
env -i PATH="$PATH" "$agent" run --config "$work/agent.env" > "$work/agent.port" 2> "$work/agent.log" &
agent_pid=$!
pids+=("$agent_pid")
for _ in $(seq 50); do grep -q listening "$work/agent.port" 2>/dev/null && break; sleep 0.1; done
agent_port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/agent.port")

sample() {  # rss_kib fds threads cpu_seconds
  local rss fds threads cpu
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent_pid/status")
  fds=$(ls "/proc/$agent_pid/fd" | wc -l)
  threads=$(awk '/Threads/ {print $2}' "/proc/$agent_pid/status")
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$agent_pid/stat")
  echo "$rss $fds $threads $cpu"
}
runs_ok() {
  curl -s "http://127.0.0.1:$agent_port/metrics" |
    awk '/^pgship_backup_runs_total\{database="tiny",result="ok"\}/ { print $2 }'
}

sleep 5
read -r rss0 fds0 thr0 cpu0 < <(sample)
runs0=$(runs_ok)
sleep "$duration"
read -r rss1 fds1 thr1 cpu1 < <(sample)
runs1=$(runs_ok)
skipped=$(curl -s "http://127.0.0.1:$agent_port/metrics" | awk '/^pgship_backup_skipped_total/ { print $2 }')

echo "pgship-agent run, SCHEDULE='* * * * * *' (every second), tiny database, ${duration} s measured after 5 s warm-up:"
printf '  %-22s %10s %10s\n' "" "start" "end"
printf '  %-22s %10s %10s\n' "RSS (KiB)" "$rss0" "$rss1"
printf '  %-22s %10s %10s\n' "open fds" "$fds0" "$fds1"
printf '  %-22s %10s %10s\n' "threads" "$thr0" "$thr1"
printf '  %-22s %10s %10s\n' "successful runs" "$runs0" "$runs1"
echo "  skipped fires (a run still active): $skipped"
awk -v a="$cpu0" -v b="$cpu1" -v d="$duration" -v r0="$runs0" -v r1="$runs1" 'BEGIN {
  printf "  CPU: %.2f s over %d s (%.1f %%), %.1f ms per run\n", b - a, d, 100 * (b - a) / d,
         (r1 > r0) ? 1000 * (b - a) / (r1 - r0) : 0 }'
