#!/usr/bin/env bash
# Recovery-time benchmark: one backup of a trading-like database, made by pgship-agent and
# stored on pgship-receiver, brought back four ways on the same throwaway PostgreSQL 15
# cluster, alternating, RUNS times:
#   (a)  bare `pg_restore --single-transaction --exit-on-error -d DB FILE` of the same bytes
#        from a local file (the floor; the database is created beforehand, untimed);
#   (a2) bare `pg_restore -j 2` of that file (the floor for (c));
#   (b)  `pgship-agent restore --latest --create`: download from the receiver, sha256 checked,
#        streamed into pg_restore, one transaction;
#   (c)  `pgship-agent restore --latest --create --jobs 2`: download to a spool, then -j 2;
#   (d)  `pgship-agent drill`: (b) into the scratch database, then count(*) of every table
#        compared with the manifest, then DROP DATABASE.
# Prints medians, every run, b / a (target <= 1.05), c / a, c / a2, the drill's wall time and
# its recovery time (download + restore, what pgship_drill_duration_seconds exports), the
# database and dump sizes, seconds per GiB, and the agent's peak RSS in (b).
#
#   SIZE_GB=1 RUNS=3 BUILD_DIR=build bench/restore_drill.sh
#
# SIZE_GB (default 1) is the table data the generator loads (see bench/lib/trading_db.sh).
# OLD_AGENT=path adds (b0), `restore --latest` of another pgship-agent build (e.g. one that
# downloads the whole file before pg_restore starts), to the alternation.
set -euo pipefail
cd "$(dirname "$0")/.."

size_gb="${SIZE_GB:-1}"
runs="${RUNS:-3}"
build_dir="${BUILD_DIR:-build}"
pg_bin=/usr/lib/postgresql/15/bin
receiver="$build_dir/receiver/pgship-receiver"
agent="$build_dir/agent/pgship-agent"
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL 15 server tools not found in $pg_bin" >&2; exit 1; }
[ -x "$receiver" ] && [ -x "$agent" ] || { echo "build first: $agent, $receiver" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found (apt-get install time)" >&2; exit 1; }

# shellcheck source=bench/lib/trading_db.sh
. bench/lib/trading_db.sh
start_receiver
write_agent_env "$work/agent.env"

# The backup every way restores: made and shipped by the agent, with exact row counts.
env -i PATH="$PATH" "$agent" backup --config "$work/agent.env" > "$work/backup.out" 2>&1 ||
  { echo "the backup failed:" >&2; cat "$work/backup.out" >&2; exit 1; }
file=$(find "$work/agent-backups" -maxdepth 1 -name 'trading-*.dump' | head -1)
dump_bytes=$(stat -c %s "$file")
echo "# database $(mib "$db_bytes") MiB (pg_database_size), tables $(mib "$tables") MiB," \
  "dump $(mib "$dump_bytes") MiB ($(basename "$file"))"

admin() { "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres "$@"; }
bare_restore() {  # $1 database, then pg_restore options
  local db=$1; shift
  admin -c "CREATE DATABASE $db"
  sync; t0=$(seconds)
  PGPASSWORD="$password" "$pg_bin/pg_restore" -h 127.0.0.1 -p "$port" -U postgres \
    --exit-on-error "$@" -d "$db" "$file"
  t1=$(seconds)
  admin -c "DROP DATABASE $db"
}
agent_cmd_with() {  # $1 binary; the command's seconds into t0/t1, its output in agent.out
  local binary=$1; shift
  sync; t0=$(seconds)
  if ! env -i PATH="$PATH" /usr/bin/time -v -o "$work/time.txt" "$binary" "$@" \
         --config "$work/agent.env" > "$work/agent.out" 2>&1; then
    echo "pgship-agent $1 failed:" >&2; cat "$work/agent.out" >&2; exit 1
  fi
  t1=$(seconds)
}
agent_cmd() { agent_cmd_with "$agent" "$@"; }

old_agent="${OLD_AGENT:-}"
a=(); a2=(); b0=(); b=(); c=(); d=(); rto=(); rss=()
for run in $(seq "$runs"); do
  if [ -n "$old_agent" ]; then
    agent_cmd_with "$old_agent" restore --latest --database trading --target-db restored_b0 --create
    b0+=("$(elapsed "$t0" "$t1")")
    admin -c "DROP DATABASE restored_b0"
  fi
  bare_restore bare_a --single-transaction
  a+=("$(elapsed "$t0" "$t1")")

  agent_cmd restore --latest --database trading --target-db restored_b --create
  b+=("$(elapsed "$t0" "$t1")")
  rss+=("$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")")
  admin -c "DROP DATABASE restored_b"

  bare_restore bare_a2 --jobs=2
  a2+=("$(elapsed "$t0" "$t1")")

  agent_cmd restore --latest --database trading --target-db restored_c --create --jobs 2
  c+=("$(elapsed "$t0" "$t1")")
  admin -c "DROP DATABASE restored_c"

  agent_cmd drill
  d+=("$(elapsed "$t0" "$t1")")
  rto+=("$(sed -n 's/.*restored in \([0-9.]*\) s.*/\1/p' "$work/agent.out")")
  grep -q "as the backup counted (exact)" "$work/agent.out" ||
    { echo "the drill did not compare exact counts:" >&2; cat "$work/agent.out" >&2; exit 1; }
  echo "# run $run: a ${a[-1]} b ${b[-1]} a2 ${a2[-1]} c ${c[-1]} d ${d[-1]} (recovery ${rto[-1]})"
done
left=$(admin -Atc "SELECT count(*) FROM pg_database WHERE datname LIKE '%drill%'")
[ "$left" = 0 ] || echo "warning: $left scratch database(s) left behind" >&2

med() { printf '%s\n' "$@" | median; }
a_med=$(med "${a[@]}"); a2_med=$(med "${a2[@]}"); b_med=$(med "${b[@]}")
c_med=$(med "${c[@]}"); d_med=$(med "${d[@]}"); rto_med=$(med "${rto[@]}")
echo
echo "restore of trading ($(mib "$db_bytes") MiB database, $(mib "$dump_bytes") MiB dump)," \
  "median of $runs alternating runs, seconds:"
printf '  %-52s %7s s   runs: %s\n' "(a)  pg_restore --single-transaction (local file)" "$a_med" "${a[*]}"
printf '  %-52s %7s s   runs: %s\n' "(a2) pg_restore -j 2 (local file)" "$a2_med" "${a2[*]}"
if [ ${#b0[@]} -gt 0 ]; then
  b0_med=$(med "${b0[@]}")
  printf '  %-52s %7s s   runs: %s\n' "(b0) OLD_AGENT restore --latest" "$b0_med" "${b0[*]}"
  awk -v b="$b0_med" -v a="$a_med" 'BEGIN { printf "  b0 / a: %.3f\n", b / a }'
fi
printf '  %-52s %7s s   runs: %s\n' "(b)  pgship-agent restore --latest (from receiver)" "$b_med" "${b[*]}"
printf '  %-52s %7s s   runs: %s\n' "(c)  pgship-agent restore --latest --jobs 2" "$c_med" "${c[*]}"
printf '  %-52s %7s s   runs: %s\n' "(d)  pgship-agent drill (restore+compare+drop)" "$d_med" "${d[*]}"
printf '  %-52s %7s s   runs: %s\n' "     drill recovery time (download + restore)" "$rto_med" "${rto[*]}"
awk -v b="$b_med" -v a="$a_med" -v a2="$a2_med" -v c="$c_med" -v d="$d_med" -v r="$rto_med" \
    -v db="$db_bytes" 'BEGIN {
  printf "  b / a:  %.3f   (target <= 1.05: %s)\n", b / a, b / a <= 1.05 ? "met" : "MISSED"
  printf "  c / a:  %.3f   c / a2: %.3f\n", c / a, c / a2
  printf "  d / a:  %.3f   drill recovery / a: %.3f\n", d / a, r / a
  printf "  recovery time: %.1f s per GiB of database (drill), %.1f s per GiB (a)\n",
    r / (db / 1073741824), a / (db / 1073741824) }'
awk -v k="$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)" \
  'BEGIN { printf "  agent restore peak RSS: %.1f MiB (the largest of it and its children)\n", k / 1024 }'
