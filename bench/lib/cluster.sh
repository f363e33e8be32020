# Sourced by the benchmarks (through bench/lib/trading_db.sh or bench/lib/timescaledb_db.sh):
# a throwaway PostgreSQL 15 cluster in a temp dir, started with settings for a fast load, and
# its database `trading` (empty). Needs pg_bin (the server tools); pg_conf_extra (optional)
# holds lines for postgresql.conf (e.g. shared_preload_libraries), in force for every start.
# Sets work, port, password, psql() (to trading), start_pg OPTIONS (on a free port), pg_ctl,
# bench_pids (more pids to kill on exit), the helpers seconds/elapsed/median/mib,
# write_agent_env FILE (an agent config for it and the receiver) and start_receiver (rx_port;
# its pid is killed on exit). Everything goes when the script exits (BENCH_KEEP=1 keeps the
# work dir, with the server's log, for a look).

work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/pgship-bench-XXXXXX")"
pid=""
bench_pids=()  # other background processes of the benchmark, killed on exit
# initdb refuses to run as root: then the cluster belongs to the postgres user, who must
# reach the work dir (its socket lives there too).
as_owner=()
if [ "$(id -u)" = 0 ]; then
  as_owner=(runuser -u postgres --)
  chown postgres: "$work"
fi
pg_ctl() { "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$work/data" "$@"; }
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done  # some are gone already
  [ -f "$work/data/postmaster.pid" ] && pg_ctl stop -m immediate -w > /dev/null 2>&1
  wait 2>/dev/null
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "BENCH_KEEP=1: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

seconds() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
table_bytes() {
  psql -Atc "SELECT coalesce(sum(pg_table_size(oid)), 0) FROM pg_class
             WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
}

# --- the cluster: loaded with fsync off, then restarted with the defaults for the dumps ---
password="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "$password" > "$work/pwfile"
[ ${#as_owner[@]} -eq 0 ] || chown postgres: "$work/pwfile"
"${as_owner[@]}" "$pg_bin/initdb" -D "$work/data" -U postgres --auth-local=trust \
  --auth-host=scram-sha-256 --pwfile="$work/pwfile" --no-sync -E UTF8 --locale=C > "$work/initdb.log"
[ -z "${pg_conf_extra:-}" ] || printf '%s\n' "$pg_conf_extra" >> "$work/data/postgresql.conf"
start_pg() {  # a port can be taken between the check and the bind: try a few
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    ss -Htln "sport = :$port" | grep -q . && continue
    pg_ctl -l "$work/server.log" -w -t 60 \
      -o "-p $port -k $work -c listen_addresses=127.0.0.1 $*" start > /dev/null && return
  done
  echo "pg_ctl start failed:" >&2; tail -20 "$work/server.log" >&2; exit 1
}
start_pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=8GB \
  -c maintenance_work_mem=256MB
psql() { "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d trading "$@"; }
"$pg_bin/psql" -X -q -h "$work" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE trading'

# Only this file configures the agent: it runs with an empty environment (the environment
# overrides the file). MAX_RETRIES=0: a retried upload would hide in the timing.
write_agent_env() {
  cat > "$1" <<EOF
POSTGRES_HOST=127.0.0.1
POSTGRES_PORT=$port
POSTGRES_DB=trading
POSTGRES_USER=postgres
POSTGRES_PASSWORD=$password
PG_DUMP_PATH=$pg_bin/pg_dump
BACKUP_DIR=$work/agent-backups
KEEP_LOCAL_BACKUPS=1
BACKUP_API_URL=http://127.0.0.1:$rx_port
BACKUP_API_TOKEN=bench
MAX_RETRIES=0
COMPRESS_LEVEL=6
LOG_LEVEL=warn
EOF
}

start_receiver() {
  BACKUP_API_TOKEN=bench STORAGE_DIR="$work/storage" PORT=0 LISTEN_ADDR=127.0.0.1 \
    MIN_FREE_BYTES=1M LOG_LEVEL=warn "$receiver" > "$work/port.txt" 2> "$work/receiver.log" &
  pid=$!
  for _ in $(seq 50); do grep -q listening "$work/port.txt" 2>/dev/null && break; sleep 0.1; done
  rx_port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/port.txt")
  [ -n "$rx_port" ] || { echo "receiver did not start:" >&2; cat "$work/receiver.log" >&2; exit 1; }
}
