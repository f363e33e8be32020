# Sourced by the WAL benchmarks after bench/lib/cluster.sh: the cluster restarted with the
# server's defaults (fsync and synchronous_commit on, 16 MiB segments) and max_wal_size=8GB, a
# receiver on a fixed loopback port that can be stopped and started again
# (stop_wal_receiver, start_wal_receiver), and `pgship-agent run` with WAL_STREAM=on, zstd and
# age (start_wal_agent, stop_wal_agent; its control port in agent_port). Helpers: wal_metric
# NAME (a pgship_wal_* sample, empty while absent), flush_bytes (the server's flushed WAL
# end as bytes), wait_caught_up SECONDS (until the agent's durable position reaches the
# server's flushed end), percentile P (of numbers on stdin).

pg_ctl stop -m fast -w > /dev/null
start_pg -c max_wal_size=8GB -c max_connections=50

age-keygen -o "$work/wal.key" 2> /dev/null
recipient=$(age-keygen -y "$work/wal.key")

pick_rx_port() {
  for _ in 1 2 3 4 5; do
    rx_port=$((20000 + RANDOM % 40000))
    ss -Htln "sport = :$rx_port" | grep -q . || return 0
  done
}
pick_rx_port
rx_pid=""; agent_pid=""; agent_port=""
# The first start may lose its port to another process between the check and the bind: then it
# takes another. Later starts keep the port (the agent's BACKUP_API_URL names it).
start_wal_receiver() {
  for _ in 1 2 3 4 5; do
    # An empty environment: the receiver refuses unknown keys that look like its own (WAL_MB).
    env -i PATH="$PATH" BACKUP_API_TOKEN=bench STORAGE_DIR="$work/storage" PORT=$rx_port \
      LISTEN_ADDR=127.0.0.1 MIN_FREE_BYTES=1M LOG_LEVEL=warn "$receiver" \
      >> "$work/receiver.port" 2>> "$work/receiver.log" &
    rx_pid=$!
    bench_pids+=("$rx_pid")
    for _ in $(seq 100); do
      curl -s -o /dev/null "http://127.0.0.1:$rx_port/health" && return
      kill -0 "$rx_pid" 2> /dev/null || break
      sleep 0.1
    done
    [ -z "$agent_pid" ] && tail -3 "$work/receiver.log" | grep -q "Address already in use" || break
    pick_rx_port
  done
  echo "receiver did not start:" >&2; tail -20 "$work/receiver.log" >&2; exit 1
}
stop_wal_receiver() { kill "$rx_pid"; wait "$rx_pid" 2> /dev/null || true; rx_pid=""; }

start_wal_agent() {
  write_agent_env "$work/agent.env"
  cat >> "$work/agent.env" <<ENV
WAL_STREAM=on
WAL_ACK_INTERVAL=${WAL_ACK_INTERVAL:-1s}
COMPRESSION=zstd
ENCRYPT_RECIPIENTS=$recipient
HEALTHCHECK_PORT=0
LISTEN_ADDR=127.0.0.1
SCHEDULE=0 0 1 1 *
ENV
  : > "$work/agent.port"
  env -i PATH="$PATH" "$agent" run --config "$work/agent.env" > "$work/agent.port" \
    2>> "$work/agent.log" &
  agent_pid=$!
  bench_pids+=("$agent_pid")
  for _ in $(seq 100); do grep -q listening "$work/agent.port" 2> /dev/null && break; sleep 0.1; done
  agent_port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/agent.port")
  [ -n "$agent_port" ] || { echo "agent did not start:" >&2; tail -20 "$work/agent.log" >&2; exit 1; }
  for _ in $(seq 600); do [ "$(wal_metric pgship_wal_stream_up)" = 1 ] && return; sleep 0.1; done
  echo "the WAL stream did not come up:" >&2; tail -20 "$work/agent.log" >&2; exit 1
}
stop_wal_agent() { kill "$agent_pid"; wait "$agent_pid" 2> /dev/null || true; agent_pid=""; }

wal_metric() {
  curl -s "http://127.0.0.1:$agent_port/metrics" | awk -v n="$1" '$1 == n { printf "%.0f\n", $2 }'
}
wal_metric_raw() {
  curl -s "http://127.0.0.1:$agent_port/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
flush_bytes() {
  "$pg_bin/psql" -X -Atq -h "$work" -p "$port" -U postgres -d postgres \
    -c "SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn"
}
wait_caught_up() {
  local target durable
  target=$(flush_bytes)
  for _ in $(seq $(($1 * 20))); do
    durable=$(wal_metric pgship_wal_durable_lsn_bytes)
    [ -n "$durable" ] && [ "$durable" -ge "$target" ] && return 0
    sleep 0.05
  done
  echo "the agent did not catch up within $1 s" >&2; return 1
}
percentile() { sort -g | awk -v p="$1" '{ a[NR] = $1 } END { i = int((NR * p + 99) / 100); if (i < 1) i = 1; print a[i] }'; }
