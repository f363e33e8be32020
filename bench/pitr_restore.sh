#!/usr/bin/env bash
# Point-in-time recovery benchmark (issue 29): the same trading-like database
# (bench/lib/trading_db.sh) backed up by pgship (a base backup through the daemon, WAL streamed
# with zstd + age) and by pgBackRest (Debian 2.45, a full backup, compress-type=zst, process-max=2,
# archive-push, archive-async=y for archive-get: bench/lib/pgbackrest.sh), then brought back
# both ways into a new data directory on the same disk and started, in alternating order, with
# `sync` and a pause before each run. A run is timed from the restore command's start until
# the started server is writable (pg_is_in_recovery() false), the same way for both:
#   (s) `pgship-agent restore --pitr --at T --target-dir DIR` (download through sha256, age and
#       zstd into tar, pg_verifybackup against the backup's manifest, recovery settings with
#       wal-fetch as restore_command), then pg_ctl start;
#   (p) `pgbackrest restore --pg1-path=DIR --type=time --target=T --target-action=promote
#       --archive-mode=off` (or the default type, to the end of the archive), then pg_ctl start.
# Both restored servers start with archive_mode off (pgship's restore has no such option: the
# line is appended to its postgresql.auto.conf), on their own socket and port, so neither
# pushes the new timeline into pgBackRest's stanza.
#   A, from the base backup alone: T is a moment after both backups, with no writes between
#      (target <= 0.9x pgBackRest);
#   B, with WAL_GB (default 1) GiB of WAL from the generator's inserts after both backups to
#      replay: T is latest (target <= 1.0x);
#   then wal-fetch's own latency: `wal-fetch SEGMENT PATH` run as PostgreSQL runs it, one
#      process per segment in order, over B's WAL with a prefetch spool (target p50 <= 20 ms),
#   and one `drill --pitr --at latest` of the whole (target < 120 s).
# Ratios within each iteration, then the median.
#
#   SIZE_GB=1 WAL_GB=1 ITERATIONS=3 BUILD_DIR=build bench/pitr_restore.sh
#
# Needs what bench/basebackup.sh needs (PostgreSQL 15 server tools, pgbackrest, zstd, age) and
# about 6 x SIZE_GB + 3 x WAL_GB free under BENCH_DIR (default /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

size_gb="${SIZE_GB:-1}"
wal_gb="${WAL_GB:-1}"
iterations="${ITERATIONS:-3}"
pause="${PAUSE:-5}"
build_dir="${BUILD_DIR:-build}"
pg_bin=/usr/lib/postgresql/15/bin
receiver="$build_dir/receiver/pgship-receiver"
agent="$build_dir/agent/pgship-agent"
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL 15 server tools not found in $pg_bin" >&2; exit 1; }
[ -x "$receiver" ] && [ -x "$agent" ] || { echo "build first: $agent, $receiver" >&2; exit 1; }
command -v pgbackrest > /dev/null || { echo "pgbackrest not found (apt-get install pgbackrest)" >&2; exit 1; }
command -v zstd > /dev/null && command -v age-keygen > /dev/null ||
  { echo "zstd and age-keygen needed (apt-get install zstd age)" >&2; exit 1; }
agent="$(realpath "$agent")"

# shellcheck source=bench/lib/trading_db.sh
. bench/lib/trading_db.sh
# shellcheck source=bench/lib/wal_stream.sh
. bench/lib/wal_stream.sh
PGBACKREST_ASYNC=1 PGBACKREST_PG_OPTIONS="-c max_wal_size=8GB -c max_connections=50"
# shellcheck source=bench/lib/pgbackrest.sh
. bench/lib/pgbackrest.sh
start_wal_receiver
start_wal_agent
system=$("$pg_bin/psql" -X -Atq -h "$work" -p "$port" -U postgres -d postgres \
  -c "SELECT system_identifier FROM pg_control_system()")
echo "# database $(mib "$db_bytes") MiB (pg_database_size), tables $(mib "$tables") MiB;" \
  "$(pgbackrest version), $("$pg_bin/postgres" --version)"

# The restored servers and wal-fetch run as the cluster's owner: the identity is theirs.
chmod 644 "$work/wal.key"
owned_dir() { mkdir -p "$1"; [ ${#as_owner[@]} -eq 0 ] || chown postgres: "$1"; }
cp "$work/agent.env" "$work/restore.env"
cat >> "$work/restore.env" <<EOF
AGE_IDENTITY_FILE=$work/wal.key
PITR_SYSTEM=$system
EOF
sed -i '/^WAL_STREAM=/d; /^HEALTHCHECK_PORT=/d; /^LISTEN_ADDR=/d; /^SCHEDULE=/d' "$work/restore.env"

# --- both base backups, then every byte of WAL archived by both ---
curl -fsS -X POST "http://127.0.0.1:$agent_port/api/v1/basebackups" -o "$work/bb.json"
bb_run=$(sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' "$work/bb.json")
for _ in $(seq 3000); do
  result=$(curl -s "http://127.0.0.1:$agent_port/api/v1/runs/$bb_run" |
    sed -n 's/.*"result":"\([a-z_]*\)".*/\1/p' | tail -1)
  [ "$result" != running ] && [ -n "$result" ] && break
  sleep 0.2
done
[ "$result" = ok ] || { echo "pgship's base backup ended $result" >&2; tail -20 "$work/agent.log" >&2; exit 1; }
backrest --type=full backup > "$work/p-backup.log" 2>&1 ||
  { echo "pgbackrest backup failed:" >&2; cat "$work/p-backup.log" >&2; exit 1; }
archived_everywhere() {
  "$pg_bin/psql" -X -Atq -h "$work" -p "$port" -U postgres -d postgres -c "SELECT pg_switch_wal()" > /dev/null
  backrest check > "$work/p-check.log" 2>&1 || { echo "pgbackrest check failed" >&2; exit 1; }
  wait_caught_up 600
}
archived_everywhere
sleep 2
target_a=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
sleep 2
# Recovery to a time stops at the first commit after it: without one it would end short.
psql -c "CREATE TABLE after_target_a (at timestamptz DEFAULT now())"
archived_everywhere
# The PITR window reaches past the moment once a later time-map sample is on the receiver.
for _ in $(seq 600); do
  newest=$(curl -s "http://127.0.0.1:$rx_port/metrics" |
    awk '$1 ~ /^pgship_receiver_pitr_newest_timestamp_seconds/ { printf "%.0f", $2 }')
  [ -n "$newest" ] && [ "$newest" -gt "$(date -d "$target_a" +%s)" ] && break
  sleep 0.5
done

# --- one restore each way; sets secs ---
failures=0
p2=$((port + 1))
wait_writable() {  # DIR SOCKETDIR: started, then until it leaves recovery
  local dir=$1 sock=$2
  # An empty environment: wal-fetch refuses keys it does not know (WAL_GB) in its own.
  env -i PATH="$PATH" "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$dir" -l "$dir.log" \
    -o "-p $p2 -c listen_addresses='' -k $sock -c archive_mode=off" start > /dev/null || return 1
  for _ in $(seq 36000); do
    state=$("$pg_bin/psql" -X -Atq -h "$sock" -p "$p2" -U postgres -d postgres \
      -c "SELECT pg_is_in_recovery()" 2> /dev/null || true)
    [ "$state" = f ] && return 0
    [ -f "$dir/postmaster.pid" ] || return 1
    sleep 0.05
  done
  return 1
}
stop_restored() {
  [ -f "$1/postmaster.pid" ] && "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$1" -m immediate -w stop > /dev/null 2>&1
  rm -rf "$1" "$1.pgship-recovery" "$1.sock"
}
# One way timed: DIR fresh, then RESTORE DIR TARGET and the server started on it, until it is
# writable; sets secs (empty on failure) and rows (the restored trades).
timed() {  # NAME DIR RESTORE TARGET
  local name=$1 dir=$2 restore=$3 t0
  stop_restored "$dir"; owned_dir "$dir"; owned_dir "$dir.sock"
  # The source's checkpoint first: after B's load it would otherwise write a GiB of dirty
  # buffers beside whichever restore runs first.
  psql -c CHECKPOINT > /dev/null
  sync; sleep "$pause"; t0=$(seconds)
  if "$restore" "$dir" "$4" > "$work/$name.out" 2>&1 && wait_writable "$dir" "$dir.sock"; then
    secs=$(elapsed "$t0" "$(seconds)")
  else
    secs=""; failures=$((failures + 1))
    echo "$name's restore failed: $(grep -m3 . "$work/$name.out") $(tail -3 "$dir.log" 2> /dev/null)" >&2
  fi
  rows=$("$pg_bin/psql" -X -Atq -h "$dir.sock" -p "$p2" -U postgres -d trading \
    -c "SELECT count(*) FROM trades" 2> /dev/null || echo -)
  stop_restored "$dir"
}
restore_s() {  # DIR TARGET
  env -i PATH="$PATH" "$agent" restore --pitr --at "$2" --target-dir "$1" \
    --config "$work/restore.env" && echo "archive_mode = off" >> "$1/postgresql.auto.conf"
}
restore_p() {  # DIR TARGET (latest: the end of the archive)
  local how=()
  # pgBackRest reads "YYYY-MM-DD HH:MM:SS.ffffff+00".
  [ "$2" = latest ] ||
    how=(--type=time "--target=$(date -u -d "$2" '+%F %T.%6N+00')" --target-action=promote)
  backrest restore --pg1-path="$1" --archive-mode=off "${how[@]}"
}
run_s() { timed pgship "$work/restored-s" restore_s "$1"; rows_s=$rows; }
run_p() { timed pgBackRest "$work/restored-p" restore_p "$1"; rows_p=$rows; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }' || echo "-"; }
med() { [ $# -gt 0 ] && printf '%s\n' "$@" | median || echo "-"; }
# A phase: ITERATIONS pairs, alternating which goes first; prints each and the medians.
phase() {  # NAME TARGET
  local i s p r ratios=() s_all=() p_all=()
  printf '%-4s %-6s %8s %8s %7s   %s\n' iter order "s (s)" "p (s)" s/p "trades rows s / p"
  for i in $(seq "$iterations"); do
    if [ $((i % 2)) = 1 ]; then run_s "$2"; s=$secs; run_p "$2"; p=$secs; order=sp
    else run_p "$2"; p=$secs; run_s "$2"; s=$secs; order=ps; fi
    r=$(ratio "$s" "$p"); [ "$r" = - ] || ratios+=("$r")
    [ -z "$s" ] || s_all+=("$s"); [ -z "$p" ] || p_all+=("$p")
    printf '%-4s %-6s %8s %8s %7s   %s / %s\n' "$i" "$order" "${s:--}" "${p:--}" "$r" "$rows_s" "$rows_p"
  done
  echo "$1: medians s $(med "${s_all[@]}") s, p $(med "${p_all[@]}") s, s/p $(med "${ratios[@]}")"
}

echo
echo "A: from the base backup alone, to $target_a (target s/p <= 0.9)"
phase A "$target_a"

# --- B: WAL_GB of WAL from the generator's inserts, then latest ---
lsn_before=$(flush_bytes)
want=$(awk -v g="$wal_gb" 'BEGIN { printf "%.0f", g * 1073741824 }')
lo=$((loaded + 1))
while [ $(($(flush_bytes) - lsn_before)) -lt "$want" ]; do
  psql -v lo="$lo" -v hi=$((lo + 499999)) -f "$work/batch.sql" > /dev/null
  lo=$((lo + 500000))
done
wal_written=$(($(flush_bytes) - lsn_before))
archived_everywhere
echo
echo "B: latest, after $(mib "$wal_written") MiB of WAL from inserts (target s/p <= 1.0)"
phase B latest

# --- wal-fetch, one process per segment as PostgreSQL runs it, with a spool ---
fetch_dir="$work/fetch"; mkdir -p "$fetch_dir/spool" "$fetch_dir/out"
cp "$work/restore.env" "$fetch_dir/fetch.env"
echo "PITR_SPOOL=$fetch_dir/spool" >> "$fetch_dir/fetch.env"
first_seg=$(( lsn_before / 16777216 )); last_seg=$(( ($(flush_bytes) - 1) / 16777216 - 1 ))
: > "$fetch_dir/ms"
for seg in $(seq "$first_seg" "$last_seg"); do
  name=$(printf '00000001%08X%08X' $((seg / 256)) $((seg % 256)))
  t0=$(seconds)
  env -i PATH="$PATH" "$agent" wal-fetch "$name" "$fetch_dir/out/$name" --config "$fetch_dir/fetch.env" ||
    { echo "wal-fetch $name failed" >&2; failures=$((failures + 1)); break; }
  awk -v a="$t0" -v b="$(seconds)" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }' >> "$fetch_dir/ms"
  rm -f "$fetch_dir/out/$name"
done
echo
echo "wal-fetch over $(wc -l < "$fetch_dir/ms") segments in order, prefetching into a spool:" \
  "p50 $(percentile 50 < "$fetch_dir/ms") ms, p90 $(percentile 90 < "$fetch_dir/ms") ms," \
  "max $(sort -g "$fetch_dir/ms" | tail -1) ms (target p50 <= 20 ms)"

# --- one PITR drill of the whole ---
owned_dir "$work/drill-backups"
sed "s|^BACKUP_DIR=.*|BACKUP_DIR=$work/drill-backups|" "$work/restore.env" > "$work/drill.env"
t0=$(seconds)
if env -i PATH="$PATH" "$agent" drill --pitr --at latest --config "$work/drill.env" > "$work/drill.out" 2>&1; then
  echo "drill --pitr --at latest: $(elapsed "$t0" "$(seconds)") s (target < 120 s): $(grep -m1 '^ok' "$work/drill.out")"
else
  failures=$((failures + 1)); echo "drill --pitr failed: $(cat "$work/drill.out")" >&2
fi
[ "$failures" -eq 0 ] || exit 1
