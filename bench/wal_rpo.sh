#!/usr/bin/env bash
# RPO under load (issue 28): `pgbench -c 8 -j 2 -T DURATION` against a throwaway PostgreSQL 15
# cluster (the server's defaults: fsync and synchronous_commit on) while `pgship-agent run`
# streams its WAL with WAL_STREAM=on, zstd and age to a pgship-receiver on loopback.
# pgship_wal_lag_seconds (the age of the oldest WAL not yet durable on the receiver) is
# scraped from the daemon's /metrics every 100 ms; the script prints its p50, p99 and max
# against the targets (p99 <= 2 s, max <= 5 s). The baseline is the same pgbench with no
# stream, alternated with it RUNS times (default 1): TPS with / without is what streaming
# costs the server. Medians over the runs; the worst max too. As a check on the agent's own
# figure, the same lag is also computed from outside it: every sample reads the server's
# flushed end (psql) and the durable position, and the lag is how long before the sample the
# server had flushed past that position (to within one sample). Not a pass/fail test.
#
#   DURATION=300 RUNS=1 BUILD_DIR=build bench/wal_rpo.sh
#
# SCALE (default 20) is pgbench's scale factor; CLIENTS (8), WAL_ACK_INTERVAL (1s, the
# default). Before each streamed run the agent catches up with what the unstreamed run wrote
# (its slot kept it), so the timed run starts from no lag. BENCH_KEEP=1 keeps the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${DURATION:-300}"
runs="${RUNS:-1}"
scale="${SCALE:-20}"
clients="${CLIENTS:-8}"
build_dir="${BUILD_DIR:-build}"
pg_bin=/usr/lib/postgresql/15/bin
receiver="$build_dir/receiver/pgship-receiver"
agent="$build_dir/agent/pgship-agent"
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL 15 server tools not found in $pg_bin" >&2; exit 1; }
[ -x "$receiver" ] && [ -x "$agent" ] || { echo "build first: $agent, $receiver" >&2; exit 1; }
command -v pgbench > /dev/null || { echo "pgbench not found (postgresql-contrib)" >&2; exit 1; }

# shellcheck source=bench/lib/cluster.sh
. bench/lib/cluster.sh
# shellcheck source=bench/lib/wal_stream.sh
. bench/lib/wal_stream.sh

export PGPASSWORD="$password"
pgbench_cmd=(pgbench -h 127.0.0.1 -p "$port" -U postgres)
"${pgbench_cmd[@]}" -i -q -s "$scale" trading > "$work/pgbench-init.log" 2>&1
start_wal_receiver
echo "# $(nproc) cores, pgbench -s $scale -c $clients -j 2 -T $duration, WAL_ACK_INTERVAL=${WAL_ACK_INTERVAL:-1s}, zstd + age"

tps_of() { awk '/^tps = / { printf "%.0f\n", $3; exit }' "$1"; }
# pgbench alone: TPS.
run_alone() {
  "${pgbench_cmd[@]}" -c "$clients" -j 2 -T "$duration" trading > "$work/alone.log" 2>&1
  tps_of "$work/alone.log"
}
# pgbench with the stream: TPS, then the lag samples in $work/lag-$1.txt.
run_streamed() {
  start_wal_agent
  wait_caught_up 600
  : > "$work/lag-$1.txt"
  "${pgbench_cmd[@]}" -c "$clients" -j 2 -T "$duration" trading > "$work/streamed.log" 2>&1 &
  local bench=$!
  local tick
  : > "$work/positions-$1.txt"
  while kill -0 "$bench" 2> /dev/null; do
    sleep 0.1 & tick=$!  # a sample every 100 ms, however long the scrape takes within that
    curl -s "http://127.0.0.1:$agent_port/metrics" > "$work/metrics.txt"
    awk '$1 == "pgship_wal_lag_seconds" { print $2 }' "$work/metrics.txt" >> "$work/lag-$1.txt"
    # The same lag measured outside the agent: the server's flushed end, the durable position.
    echo "$(seconds) $(flush_bytes) $(awk '$1 == "pgship_wal_durable_lsn_bytes" { printf "%.0f", $2 }' \
      "$work/metrics.txt")" >> "$work/positions-$1.txt"
    wait "$tick"
  done
  wait "$bench"
  stop_wal_agent
  tps_of "$work/streamed.log"
}

alone_tps=(); streamed_tps=(); p50s=(); p99s=(); maxes=(); o99s=(); omaxes=()
for run in $(seq "$runs"); do
  # Not in subshells: the agent's pid stays known to the cleanup.
  if [ $((run % 2)) = 1 ]; then
    run_streamed "$run" > "$work/tps-streamed"; run_alone > "$work/tps-alone"
  else
    run_alone > "$work/tps-alone"; run_streamed "$run" > "$work/tps-streamed"
  fi
  streamed_tps+=("$(cat "$work/tps-streamed")"); alone_tps+=("$(cat "$work/tps-alone")")
  lag="$work/lag-$run.txt"
  # For each sample, how long ago the server had flushed past the durable position: from the
  # first sample whose flushed end was beyond it (the one before it, to be safe: the WAL may
  # have been flushed just after that earlier sample).
  awk 'NF == 3 { t[++n] = $1; f[n] = $2; d[n] = $3 }
       END { j = 1; for (i = 1; i <= n; i++) {
               while (j <= i && f[j] <= d[i]) j++
               k = j > 1 ? j - 1 : 1; print (j <= i ? t[i] - t[k] : 0) } }' \
    "$work/positions-$run.txt" > "$work/outside-$run.txt"
  o99s+=("$(percentile 99 < "$work/outside-$run.txt")")
  omaxes+=("$(sort -g "$work/outside-$run.txt" | tail -1)")
  p50s+=("$(percentile 50 < "$lag")"); p99s+=("$(percentile 99 < "$lag")")
  maxes+=("$(sort -g "$lag" | tail -1)")
  printf 'run %s: %s lag samples, p50 %.2f s, p99 %.2f s, max %.2f s; TPS streamed %s, alone %s\n' \
    "$run" "$(wc -l < "$lag")" "${p50s[-1]}" "${p99s[-1]}" "${maxes[-1]}" "${streamed_tps[-1]}" \
    "${alone_tps[-1]}"
done

med() { printf '%s\n' "$@" | median; }
p99=$(med "${p99s[@]}"); max=$(med "${maxes[@]}"); worst=$(printf '%s\n' "${maxes[@]}" | sort -g | tail -1)
tps_s=$(med "${streamed_tps[@]}"); tps_a=$(med "${alone_tps[@]}")
runs_of() { printf ' %.2f' "$@"; }
printf '%-44s %8s   runs: %s\n' "pgbench TPS, no stream" "$tps_a" "${alone_tps[*]}"
printf '%-44s %8s   runs: %s\n' "pgbench TPS, WAL streamed" "$tps_s" "${streamed_tps[*]}"
printf '%-44s %8.2f   runs:%s\n' "pgship_wal_lag_seconds p50 (s)" "$(med "${p50s[@]}")" "$(runs_of "${p50s[@]}")"
printf '%-44s %8.2f   runs:%s\n' "pgship_wal_lag_seconds p99 (s)" "$p99" "$(runs_of "${p99s[@]}")"
printf '%-44s %8.2f   runs:%s\n' "pgship_wal_lag_seconds max (s)" "$max" "$(runs_of "${maxes[@]}")"
printf '%-44s %8.2f   runs:%s\n' "lag seen from the server's flush, p99 (s)" "$(med "${o99s[@]}")" "$(runs_of "${o99s[@]}")"
printf '%-44s %8.2f   runs:%s\n' "lag seen from the server's flush, max (s)" "$(med "${omaxes[@]}")" "$(runs_of "${omaxes[@]}")"
awk -v p="$p99" -v m="$max" -v w="$worst" -v s="$tps_s" -v a="$tps_a" 'BEGIN {
  printf "p99 / 2 s target: %.2f (<= 1 meets it); max / 5 s target: %.2f (worst run %.2f)\n", p / 2, m / 5, w / 5
  printf "TPS streamed / alone: %.3f\n", s / a }'
