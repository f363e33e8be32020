#!/usr/bin/env bash
# TimescaleDB benchmark (issue 25's "Must show"): on a throwaway PostgreSQL 15 cluster that
# preloads TimescaleDB, one database shaped like the trading platform (bench/lib/timescaledb_db.sh:
# hypertables with 1-day chunks, the older ones compressed, a continuous aggregate with a
# refresh policy, compression and retention policies, foreign keys to plain tables), three
# measurements, each alternating its ways RUNS times and printing medians and every run:
#
#  1. backup: (a) bare `pg_dump -Fc -Z6 -f FILE` against (c) `pgship-agent backup` (pg_dump -Z6,
#     exact counts, TIMESCALEDB_JOBS_DURING_DUMP=pause, shipped to a local pgship-receiver)
#     under /usr/bin/time -v: c / a against the target <= 1.05, and the agent's peak RSS.
#  2. restore: (r) TimescaleDB's documented procedure by hand on the agent's local copy of the
#     newest backup (CREATE DATABASE; CREATE EXTENSION timescaledb VERSION '<the source's>';
#     SELECT timescaledb_pre_restore(); pg_restore --single-transaction --exit-on-error; SELECT
#     timescaledb_post_restore()) against (d) the `restore` stage of a pgship drill of the same
#     backup, read from the drill's run record (a `pgship-agent run` daemon, drill started with
#     POST /api/v1/drills, record from GET /api/v1/runs/{id}): d / r against <= 1.05. JOBS2=1
#     (the default) adds (r2) the same by hand with the agent's split (schema and TimescaleDB's
#     catalog in one transaction, then the other rows, indexes and constraints with
#     pg_restore -j 2) against (d2) a drill with DRILL_JOBS=2.
#  3. inserts while a backup runs: pgbench, one connection at RATE (default 200) inserts a
#     second into trades' newest chunk (a foreign key to accounts, like an order flow), started
#     2 s before `pgship-agent backup` and ending TAIL (default 15) s after a backup's usual
#     length. Before each backup the newest compressed chunk of each hypertable is decompressed
#     (work for the compression policies), each retention policy's drop_after is set so the
#     oldest chunk is due, and all four policies get next_start = now() + DUE_AFTER s: they
#     fall due while pg_dump runs. Alternating TIMESCALEDB_JOBS_DURING_DUMP=pause and
#     =run (RUNS_INSERTS runs each, default RUNS): p50/p99/max insert latency (pgbench's
#     per-transaction log; with --rate a latency counts from the scheduled start, so inserts
#     queued behind a stall count), the policy runs that started while pg_dump ran (its
#     lifetime, the agent's child watched every 50 ms; with pause also where the pause began and
#     ended, from the agent's log), the job runs that failed
#     (timescaledb_information.job_history, enable_job_execution_logging is on), and the server
#     log's "deadlock detected" and lock waits over 1 s (log_lock_waits).
#
# Not a pass/fail test: the ratios are printed against the issue's targets; it exits 1 if an
# agent run failed, after printing the rest.
#
#   SIZE_GB=1 RUNS=3 BUILD_DIR=build bench/timescaledb.sh
#
# SIZE_GB (default 1) is the database's size, pg_database_size with the older chunks
# compressed (about 2.3x as many rows as loaded: see bench/lib/timescaledb_db.sh).
# RUNS_BACKUP, RUNS_RESTORE and RUNS_INSERTS (each default RUNS) set each part's runs; 0 leaves
# that part out (one untimed agent backup is still made for the restores). JOBS2=0 leaves the
# -j 2 pair out; RATE, DUE_AFTER (default: 5 s, or a quarter of a shorter backup) and TAIL as
# above. BENCH_KEEP=1 keeps the work dir (server log, agent and daemon logs) for a look.
# Runtime on 2 cores: SIZE_GB=1 RUNS=3 about 22 minutes (load 3, backups 5, restores 7,
# inserts 7.5); SIZE_GB=0.2 RUNS=1 about 2 minutes. Disk: about 11 x SIZE_GB free under
# BENCH_DIR (default /var/tmp, not tmpfs) for RUNS=3: the cluster, 3 x SIZE_GB with a
# restored copy and the WAL; the receiver keeps every backup (the dump is 0.75 x SIZE_GB:
# compressed chunks do not compress again), RUNS_BACKUP + 2 x RUNS_INSERTS of them; the
# agent's local copy and a drill's spool.
# Needs PostgreSQL 15's server tools, TimescaleDB installed into them
# (tests/support/timescaledb/install-timescaledb.sh), pgbench, jq, curl, pgrep and
# /usr/bin/time.
# Cleans up on exit (trap): the cluster, the receiver, the agent daemons, pgbench and the
# work dir.
set -euo pipefail
cd "$(dirname "$0")/.."

size_gb="${SIZE_GB:-1}"
runs="${RUNS:-3}"
runs_backup="${RUNS_BACKUP:-$runs}"
runs_restore="${RUNS_RESTORE:-$runs}"
runs_inserts="${RUNS_INSERTS:-$runs}"
build_dir="${BUILD_DIR:-build}"
with_jobs2="${JOBS2:-1}"
rate="${RATE:-200}"
due_after="${DUE_AFTER:-}"
tail_secs="${TAIL:-15}"
pg_bin=/usr/lib/postgresql/15/bin
receiver="$build_dir/receiver/pgship-receiver"
agent="$build_dir/agent/pgship-agent"
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL 15 server tools not found in $pg_bin" >&2; exit 1; }
[ -x "$receiver" ] && [ -x "$agent" ] || { echo "build first: $agent, $receiver" >&2; exit 1; }
[ -f "$("$pg_bin/pg_config" --sharedir)/extension/timescaledb.control" ] || {
  echo "TimescaleDB is not installed (tests/support/timescaledb/install-timescaledb.sh)" >&2; exit 1; }
for tool in /usr/bin/time jq curl pgrep; do
  command -v "$tool" > /dev/null || { echo "$tool not found" >&2; exit 1; }
done
pgbench_bin=$([ -x "$pg_bin/pgbench" ] && echo "$pg_bin/pgbench" || command -v pgbench || true)
[ -n "$pgbench_bin" ] || { echo "pgbench not found" >&2; exit 1; }

# shellcheck source=bench/lib/timescaledb_db.sh
. bench/lib/timescaledb_db.sh
start_receiver
export PGPASSWORD="$password"  # pg_dump, pg_restore, pgbench over TCP as the agent does
admin() { "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres "$@"; }
psql_db() { local db=$1; shift; "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d "$db" "$@"; }
free_port() {  # into free (not in a subshell: $RANDOM would repeat there)
  while :; do
    free=$((20000 + RANDOM % 40000))
    ss -Htln "sport = :$free" | grep -q . || return 0
  done
}
# Before each timed step: the previous one's dirty buffers written and the disk synced, so
# no step pays for the one before it.
settle() { admin -c CHECKPOINT; sync; }
ratio() {  # name, x, y, target: "x / y: R (target <= T: met)"
  awk -v n="$1" -v x="$2" -v y="$3" -v t="$4" 'BEGIN {
    r = x / y; printf "  %s: %.3f   (target <= %s: %s)\n", n, r, t, r <= t ? "met" : "MISSED" }'
}
agent_failures=0

# ---------------------------------------------------------------------------------------------
# 1. backup: bare pg_dump against the agent
pg_dump_cmd=("$pg_bin/pg_dump" -h 127.0.0.1 -p "$port" -U postgres -Fc -Z6)
# Once untimed: the dump's size, and the first read of every table after the restart.
"${pg_dump_cmd[@]}" -f "$work/warm.dump" trading 2> "$work/pg_dump.err"
dump_bytes=$(stat -c %s "$work/warm.dump")
rm -f "$work/warm.dump"
echo "# database $(mib "$db_bytes") MiB (pg_database_size), tables $(mib "$tables") MiB as" \
  "stored ($(mib "$raw_tables") MiB before compression), pg_dump -Fc -Z6 $(mib "$dump_bytes") MiB:" \
  "$(awk -v t="$tables" -v r="$raw_tables" -v d="$dump_bytes" -v db="$db_bytes" 'BEGIN {
       printf "loaded/dump %.2f:1, stored/dump %.2f:1, database/dump %.2f:1", r / d, t / d, db / d }')"

# What the agent's exact counts cost alone (it counts while pg_dump runs, on the other core).
count_secs=""
for rel in trades order_events trades_1h accounts; do
  t0=$(seconds); psql -Atc "SELECT count(*) FROM $rel" > /dev/null; t1=$(seconds)
  count_secs+=" $rel $(elapsed "$t0" "$t1") s,"
done
echo "# count(*) alone:${count_secs%,}"

write_agent_env "$work/agent.env"
echo "ROW_COUNTS=exact" >> "$work/agent.env"
echo "TIMESCALEDB_JOBS_DURING_DUMP=pause" >> "$work/agent.env"

a_secs=(); c_secs=(); rss=(); dump_rss=()
for run in $(seq "$runs_backup"); do
  settle; t0=$(seconds)
  /usr/bin/time -f %M -o "$work/a.rss" "${pg_dump_cmd[@]}" -f "$work/a.dump" trading 2> "$work/pg_dump.err"
  t1=$(seconds); rm -f "$work/a.dump"
  a_secs+=("$(elapsed "$t0" "$t1")")
  dump_rss+=("$(tail -1 "$work/a.rss")")

  settle; t0=$(seconds); cres=failed
  if env -i PATH="$PATH" /usr/bin/time -v -o "$work/time.txt" \
       "$agent" backup --config "$work/agent.env" > "$work/agent.out" 2> "$work/agent.err"; then
    t1=$(seconds)
    c_secs+=("$(elapsed "$t0" "$t1")"); cres=${c_secs[-1]}
    rss+=("$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")")
  else
    agent_failures=$((agent_failures + 1))
    echo "agent backup failed (run $run): $(cat "$work/agent.out" "$work/agent.err" | grep -m1 . || true)" >&2
  fi
  echo "# backup run $run: a ${a_secs[-1]} c $cres"
  sleep 1  # the agent names its backup by the second
done
if [ "$runs_backup" = 0 ]; then  # the backup the restores and drills use, untimed
  env -i PATH="$PATH" "$agent" backup --config "$work/agent.env" > "$work/agent.out" 2> "$work/agent.err" ||
    { echo "the agent's backup failed: $(cat "$work/agent.out" "$work/agent.err")" >&2; exit 1; }
fi
grep -q "cannot count\|no row counts" "$work/agent.err" &&
  echo "warning: the agent's manifest lacks counts: $(grep -m1 'cannot count\|no row counts' "$work/agent.err")" >&2

# ---------------------------------------------------------------------------------------------
# 2. restore: TimescaleDB's procedure by hand against the drill's restore stage
file=$(find "$work/agent-backups" -maxdepth 1 -name 'trading-*.dump' | sort | tail -1)
[ -n "$file" ] || { echo "no local copy of the agent's backup in $work/agent-backups" >&2; exit 1; }
backup_id=$(basename "$file")
file_bytes=$(stat -c %s "$file")

# A daemon per DRILL_JOBS, each with a BACKUP_DIR of its own (its run history and lock):
# the drill's run record, with its stages, is what GET /api/v1/runs/{id} returns.
start_daemon() {  # $1 DRILL_JOBS; sets daemon_port
  local jobs=$1 cfg="$work/daemon-$1.env"
  free_port; daemon_port=$free
  grep -v '^BACKUP_DIR=\|^LOG_LEVEL=' "$work/agent.env" > "$cfg"
  cat >> "$cfg" <<EOF
BACKUP_DIR=$work/daemon-$jobs
LOG_LEVEL=info
DRILL_JOBS=$jobs
HEALTHCHECK_PORT=$daemon_port
LISTEN_ADDR=127.0.0.1
SCHEDULE=0 3 1 1 *
RUN_ON_STARTUP=false
EOF
  env -i PATH="$PATH" "$agent" run --config "$cfg" > "$work/daemon-$jobs.log" 2>&1 &
  bench_pids+=("$!")
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$daemon_port/livez" && return
    sleep 0.1
  done
  echo "the agent daemon (DRILL_JOBS=$jobs) did not start:" >&2; cat "$work/daemon-$jobs.log" >&2; exit 1
}
daemon1=""; daemon2=""
if [ "$runs_restore" -gt 0 ]; then
  start_daemon 1; daemon1=$daemon_port
  [ "$with_jobs2" != 1 ] || { start_daemon 2; daemon2=$daemon_port; }
fi

# One drill through a daemon: its record in $work/drill.json; restore stage seconds into
# d_restore, download into d_download, wall time (POST to end) into d_wall.
drill() {  # $1 daemon port
  local hp=$1 id record result
  settle; t0=$(seconds)
  id=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"databases": ["trading"]}' \
         "http://127.0.0.1:$hp/api/v1/drills" | jq -r .run_id)
  for _ in $(seq 7200); do  # the stage seconds come from the record: polling can be slow
    record=$(curl -sf "http://127.0.0.1:$hp/api/v1/runs/$id")
    result=$(jq -r .result <<< "$record")
    [ "$result" = running ] || break
    sleep 0.5
  done
  t1=$(seconds)
  echo "$record" > "$work/drill.json"
  if [ "$result" != ok ]; then
    echo "the drill failed: $(jq -c '.error // .databases[0].error' <<< "$record")" >&2
    return 1
  fi
  jq -e '.databases[0].drill.mismatches | length == 0' <<< "$record" > /dev/null &&
    jq -e '.databases[0].drill.row_counts == "exact"' <<< "$record" > /dev/null ||
    { echo "the drill did not compare exact counts: $record" >&2; return 1; }
  [ "$(jq -r .databases[0].backup <<< "$record")" = "$backup_id" ] ||
    { echo "the drill restored $(jq -r .databases[0].backup <<< "$record"), not $backup_id" >&2; return 1; }
  d_restore=$(jq -r '[.databases[0].stages[] | select(.name == "restore") | .seconds][0] * 100 | round / 100' <<< "$record")
  d_download=$(jq -r '[.databases[0].stages[] | select(.name == "download") | .seconds][0] * 100 | round / 100' <<< "$record")
  d_wall=$(elapsed "$t0" "$t1")
}

# TimescaleDB's documented procedure, timed from CREATE DATABASE to post_restore; the
# database is dropped afterwards (untimed; FORCE: post_restore started its jobs).
# $1 database, $2 jobs (1: one pg_restore --single-transaction; 2: the agent's split by hand).
manual_restore() {
  local db=$1 jobs=$2
  settle; t0=$(seconds)
  admin -c "CREATE DATABASE $db"
  tc=$(seconds)
  psql_db "$db" -c "CREATE EXTENSION timescaledb VERSION '$tsdb_version'"
  psql_db "$db" -Atc "SELECT timescaledb_pre_restore()" > /dev/null
  local restore=("$pg_bin/pg_restore" -h 127.0.0.1 -p "$port" -U postgres --exit-on-error -d "$db")
  if [ "$jobs" = 1 ]; then
    "${restore[@]}" --single-transaction "$file"
  else
    # The list without the extension's entries; the first pass skips every table's rows but
    # TimescaleDB's catalog and config, the second skips those (pipeline/timescaledb_restore).
    "$pg_bin/pg_restore" --list "$file" |
      grep -v '^;' | grep -v ' EXTENSION - timescaledb \| COMMENT - EXTENSION timescaledb ' > "$work/all.list"
    awk '/ (TABLE DATA|SEQUENCE SET) / && !/ (TABLE DATA|SEQUENCE SET) _timescaledb_(catalog|config) / { next } { print }' \
      "$work/all.list" > "$work/first.list"
    awk '/ (TABLE DATA|SEQUENCE SET) _timescaledb_(catalog|config) / { next } { print }' \
      "$work/all.list" > "$work/second.list"
    "${restore[@]}" --single-transaction --section=pre-data --section=data -L "$work/first.list" "$file"
    "${restore[@]}" --jobs="$jobs" --section=data --section=post-data -L "$work/second.list" "$file"
  fi
  psql_db "$db" -Atc "SELECT timescaledb_post_restore()" > /dev/null
  t1=$(seconds)
  m_create=$(elapsed "$t0" "$tc")
  admin -c "DROP DATABASE $db WITH (FORCE)"
}

r=(); r_create=(); d=(); d_dl=(); d_w=(); r2=(); d2=(); d2_dl=(); drill_failures=0
for run in $(seq "$runs_restore"); do
  manual_restore manual_r 1
  r+=("$(elapsed "$t0" "$t1")"); r_create+=("$m_create")
  line="# restore run $run: r ${r[-1]} d failed"
  if drill "$daemon1"; then
    d+=("$d_restore"); d_dl+=("$d_download"); d_w+=("$d_wall")
    line="# restore run $run: r ${r[-1]} d $d_restore"
  else
    drill_failures=$((drill_failures + 1)); agent_failures=$((agent_failures + 1))
  fi
  if [ "$with_jobs2" = 1 ]; then
    manual_restore manual_r2 2
    r2+=("$(elapsed "$t0" "$t1")")
    line+=" r2 ${r2[-1]} d2"
    if drill "$daemon2"; then
      d2+=("$d_restore"); d2_dl+=("$d_download"); line+=" $d_restore"
    else
      drill_failures=$((drill_failures + 1)); agent_failures=$((agent_failures + 1)); line+=" failed"
    fi
  fi
  echo "$line"
done
left=$(admin -Atc "SELECT count(*) FROM pg_database WHERE datname LIKE '%drill%' OR datname LIKE 'manual_%'")
[ "$left" = 0 ] || echo "warning: $left restored database(s) left behind" >&2
for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${bench_pids[@]}" 2>/dev/null || true
bench_pids=()

# ---------------------------------------------------------------------------------------------
# 3. inserts into the newest chunk while a backup runs, with policies due during it
psql > /dev/null <<'SQL'
CREATE SEQUENCE bench_ticket START 1000000000000;
SQL
cat > "$work/insert.sql" <<'SQL'
\set a random(1, 20000)
\set i random(1, 16)
INSERT INTO trades (time, ticket, account_id, instrument_id, side, volume, open_price, commission) VALUES (now(), nextval('bench_ticket'), :a, :i, 'B', 1.00, 1.08, 0.50);
SQL
jobs_csv=$(psql -Atc "SELECT string_agg(job_id::text, ',' ORDER BY job_id) FROM timescaledb_information.jobs
                      WHERE proc_name IN ('policy_compression', 'policy_retention')")
wait_jobs_idle() {  # none of the policies running (at most 300 s)
  for _ in $(seq 3000); do
    [ "$(psql -Atc "SELECT count(*) FROM timescaledb_information.job_stats
                    WHERE job_id IN ($jobs_csv) AND job_status = 'Running'")" = 0 ] && return
    sleep 0.1
  done
  echo "warning: TimescaleDB's policies still run after 300 s" >&2
}
wait_jobs_ran() {  # $1 epoch: every policy has started and finished since (at most 300 s)
  for _ in $(seq 3000); do
    [ "$(psql -Atc "SELECT count(*) FROM timescaledb_information.job_stats
                    WHERE job_id IN ($jobs_csv) AND job_status <> 'Running'
                      AND last_run_started_at >= to_timestamp($1)
                      AND (last_successful_finish >= last_run_started_at OR last_run_status = 'Failed')")" \
      = "$(tr ',' '\n' <<< "$jobs_csv" | wc -l)" ] && return
    sleep 0.1
  done
  echo "warning: not every policy ran within 300 s of the backup" >&2
}
# The work the policies find: each hypertable's newest compressed chunk decompressed, and a
# drop_after that makes its oldest chunk due for retention.
prepare_policies() {
  psql > /dev/null <<'SQL'
SELECT decompress_chunk(c) FROM (
  SELECT DISTINCT ON (hypertable_name) format('%I.%I', chunk_schema, chunk_name)::regclass AS c
  FROM timescaledb_information.chunks
  WHERE hypertable_name IN ('trades', 'order_events') AND is_compressed
  ORDER BY hypertable_name, range_end DESC) x;
SELECT alter_job(j.job_id, config => jsonb_set(j.config, '{drop_after}',
                 to_jsonb((now() - min(c.range_end) + interval '1 hour')::text)))
FROM timescaledb_information.jobs j
JOIN timescaledb_information.chunks c USING (hypertable_schema, hypertable_name)
WHERE j.proc_name = 'policy_retention'
GROUP BY j.job_id, j.config;
CHECKPOINT;
SQL
}
# Latency of one pgbench log (µs in field 3): "p50 p99 max over_1s count", in ms.
latency_stats() {
  awk '{ print $3 / 1000 }' "$@" | sort -n | awk '
    { a[NR] = $1; if ($1 > 1000) slow++ }
    END { if (NR == 0) { print "0 0 0 0 0"; exit }
          i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
          printf "%.2f %.2f %.2f %d %d\n", a[i50], a[i99], a[NR], slow, NR }'
}
backup_len=$(printf '%s\n' "${c_secs[@]:-${a_secs[@]:-30}}" | median)
# Due well inside pg_dump's run: 5 s, or a quarter of a short backup.
[ -n "$due_after" ] || due_after=$(awk -v b="$backup_len" 'BEGIN { d = b / 4; if (d > 5) d = 5; if (d < 1) d = 1; printf "%.1f", d }')
pgbench_secs=$(awk -v b="$backup_len" -v d="$due_after" -v t="$tail_secs" 'BEGIN { printf "%d", b + d + t + 2.999 }')
declare -A p50 p99 pmax slow txns during failed deadlocks waits bfail
for mode in pause run; do
  p50[$mode]=""; p99[$mode]=""; pmax[$mode]=""; slow[$mode]=0; txns[$mode]=0; during[$mode]=0
  failed[$mode]=0; deadlocks[$mode]=0; waits[$mode]=0; bfail[$mode]=0
  sed "s/^TIMESCALEDB_JOBS_DURING_DUMP=.*/TIMESCALEDB_JOBS_DURING_DUMP=$mode/; s/^LOG_LEVEL=.*/LOG_LEVEL=info/" \
    "$work/agent.env" > "$work/agent-$mode.env"
done
for run in $(seq "$runs_inserts"); do
  for mode in pause run; do
    wait_jobs_idle
    prepare_policies
    log_from=$(stat -c %s "$work/server.log")
    rm -f "$work"/pgbench_log.*
    "$pgbench_bin" -n -h 127.0.0.1 -p "$port" -U postgres -c 1 -R "$rate" -T "$pgbench_secs" \
      -f "$work/insert.sql" -l --log-prefix="$work/pgbench_log" trading > "$work/pgbench.out" 2>&1 &
    pgb=$!; bench_pids+=("$pgb")
    sleep 2
    t_due=$(date +%s.%N)
    psql -v jobs="$jobs_csv" -v secs="$due_after" > /dev/null <<'SQL'
SELECT alter_job(job_id, next_start => now() + :'secs' * interval '1 s')
FROM timescaledb_information.jobs WHERE job_id = ANY (string_to_array(:'jobs', ',')::int[]);
SQL
    # The agent in the background, watched every 50 ms for its pg_dump child: pg_dump's
    # lifetime (it holds its locks from start to exit) is the window in which no job should start.
    t0=$(seconds)
    env -i PATH="$PATH" "$agent" backup --config "$work/agent-$mode.env" \
      > "$work/agent.out" 2> "$work/agent.err" &
    apid=$!; bench_pids+=("$apid")
    dump0=""; dump1=""
    while kill -0 "$apid" 2> /dev/null; do
      if pgrep -P "$apid" -x pg_dump > /dev/null; then
        now=$(seconds); dump1=$now; [ -n "$dump0" ] || dump0=$now
      fi
      sleep 0.05
    done
    if ! wait "$apid"; then
      agent_failures=$((agent_failures + 1)); bfail[$mode]=$((${bfail[$mode]} + 1))
      echo "agent backup ($mode) failed (run $run): $(cat "$work/agent.out" "$work/agent.err" | grep -m1 . || true)" >&2
    fi
    t1=$(seconds)
    wait "$pgb" || echo "pgbench ($mode, run $run) failed: $(tail -3 "$work/pgbench.out")" >&2
    bench_pids=()
    wait_jobs_ran "$t_due"
    sleep 1  # the server log's last lines
    [ -n "$dump0" ] || { echo "warning: pg_dump was not seen (run $run, $mode)" >&2; dump0=$t0; dump1=$t1; }
    # pause: whether the pause (the agent's log, info) covered pg_dump's lifetime.
    paused=""
    if [ "$mode" = pause ]; then
      stamp() { grep -m1 "$1" "$work/agent.err" | grep -o '^[0-9-]*T[0-9:.]*Z' || true; }
      w0=$(stamp 'job(s) paused'); w1=$(stamp 'job(s) resumed')
      if [ -n "$w0" ] && [ -n "$w1" ]; then
        paused=$(grep -m1 -o '[0-9]* of [0-9]* job(s) paused' "$work/agent.err" || true)
        paused+=$(awk -v p0="$(date -d "$w0" +%s.%N)" -v p1="$(date -d "$w1" +%s.%N)" -v d0="$dump0" -v d1="$dump1" \
          'BEGIN { printf " %.2f s before pg_dump, resumed %.2f s after it", d0 - p0, p1 - d1 }')
      else
        paused="no pause and resume in the agent's log: $(grep -m1 -i timescale "$work/agent.err" || echo none)"
      fi
    fi
    read -r l50 l99 lmax lslow ln < <(latency_stats "$work"/pgbench_log.*)
    p50[$mode]+="$l50 "; p99[$mode]+="$l99 "; pmax[$mode]+="$lmax "
    slow[$mode]=$((${slow[$mode]} + lslow)); txns[$mode]=$((${txns[$mode]} + ln))
    read -r started_in nfailed ndue < <(psql -At -F ' ' -c "
      SELECT count(*) FILTER (WHERE start_time > to_timestamp($dump0) AND start_time < to_timestamp($dump1)),
             count(*) FILTER (WHERE succeeded IS NOT TRUE),
             count(DISTINCT job_id)
      FROM timescaledb_information.job_history
      WHERE job_id IN ($jobs_csv) AND start_time >= to_timestamp($t_due)")
    during[$mode]=$((${during[$mode]} + started_in)); failed[$mode]=$((${failed[$mode]} + nfailed))
    nlog=$(tail -c +"$((log_from + 1))" "$work/server.log")
    ndead=$(grep -c 'deadlock detected' <<< "$nlog" || true)
    nwait=$(grep -c 'still waiting for' <<< "$nlog" || true)
    deadlocks[$mode]=$((${deadlocks[$mode]} + ndead)); waits[$mode]=$((${waits[$mode]} + nwait))
    psql -At -F ' | ' -c "
      SELECT job_id, proc_name, to_char(start_time, 'HH24:MI:SS.MS'), to_char(finish_time, 'HH24:MI:SS.MS'),
             CASE WHEN succeeded THEN 'ok' ELSE 'FAILED: ' || coalesce(err_message, '?') END
      FROM timescaledb_information.job_history
      WHERE job_id IN ($jobs_csv) AND start_time >= to_timestamp($t_due) ORDER BY start_time" \
      > "$work/jobs-$mode-$run.txt"
    echo "# inserts run $run, $mode: backup $(elapsed "$t0" "$t1") s, pg_dump $(elapsed "$dump0" "$dump1") s${paused:+ ($paused)};" \
      "inserts p50 $l50 p99 $l99 max $lmax ms" \
      "($ln, $lslow over 1 s); policy runs $ndue of 4 ran, $started_in started while pg_dump ran," \
      "$nfailed failed; server log: $ndead deadlock(s), $nwait lock wait(s) over 1 s"
    if [ "$nfailed" != 0 ] || [ "$ndead" != 0 ] || [ "$started_in" != 0 ]; then
      sed 's/^/#     /' "$work/jobs-$mode-$run.txt"
      grep 'deadlock detected\|still waiting for\|^DETAIL\|ERROR' <<< "$nlog" | head -8 | cut -c1-240 |
        while IFS= read -r l; do  # relation OIDs named, where they still exist
          oid=$(grep -o 'relation [0-9]*' <<< "$l" | head -1 | cut -d' ' -f2 || true)
          [ -z "$oid" ] ||
            l="$l ($(psql -Atc "SELECT coalesce((SELECT oid::regclass::text FROM pg_class WHERE oid = $oid), 'dropped')"))"
          echo "#     log: $l"
        done || true
    fi
    sleep 1
  done
done

# ---------------------------------------------------------------------------------------------
med() { printf '%s\n' "$@" | median; }
if [ "$runs_backup" -gt 0 ]; then
a_med=$(med "${a_secs[@]}")
echo
echo "1. backup of trading on TimescaleDB $tsdb_version ($(mib "$db_bytes") MiB database," \
  "$(mib "$dump_bytes") MiB dump), median of $runs_backup alternating runs, seconds:"
printf '  %-52s %7s s   runs: %s\n' "(a) pg_dump -Fc -Z6" "$a_med" "${a_secs[*]}"
if [ ${#c_secs[@]} -eq 0 ]; then
  echo "  (c) pgship-agent backup: failed in all $runs_backup runs"
else
  c_med=$(med "${c_secs[@]}")
  printf '  %-52s %7s s   runs: %s\n' "(c) pgship-agent backup (exact counts, jobs paused)" "$c_med" "${c_secs[*]}"
  ratio "c / a" "$c_med" "$a_med" 1.05
  awk -v k="$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)" \
      -v p="$(printf '%s\n' "${dump_rss[@]}" | sort -n | tail -1)" 'BEGIN {
    printf "  agent peak RSS: %.1f MiB, max over runs (the largest of it and its children; pg_dump alone in (a): %.1f MiB)\n", k / 1024, p / 1024 }'
fi
fi

if [ "$runs_restore" -gt 0 ]; then
r_med=$(med "${r[@]}")
echo
echo "2. restore of $backup_id ($(mib "$file_bytes") MiB), median of $runs_restore alternating runs, seconds:"
printf '  %-52s %7s s   runs: %s\n' "(r)  by hand: createdb .. post_restore" "$r_med" "${r[*]}"
printf '  %-52s %7s s   runs: %s\n' "     of which CREATE DATABASE" "$(med "${r_create[@]}")" "${r_create[*]}"
if [ ${#d[@]} -gt 0 ]; then
  d_med=$(med "${d[@]}")
  printf '  %-52s %7s s   runs: %s\n' "(d)  drill's restore stage (run record)" "$d_med" "${d[*]}"
  printf '  %-52s %7s s   runs: %s\n' "     drill's download stage" "$(med "${d_dl[@]}")" "${d_dl[*]}"
  printf '  %-52s %7s s   runs: %s\n' "     drill, POST to record (0.5 s polls)" "$(med "${d_w[@]}")" "${d_w[*]}"
  ratio "d / r" "$d_med" "$r_med" 1.05
else
  echo "  (d) drill: failed in all $runs_restore runs"
fi
if [ "$with_jobs2" = 1 ]; then
  r2_med=$(med "${r2[@]}")
  printf '  %-52s %7s s   runs: %s\n' "(r2) by hand, catalog first, then pg_restore -j 2" "$r2_med" "${r2[*]}"
  if [ ${#d2[@]} -gt 0 ]; then
    d2_med=$(med "${d2[@]}")
    printf '  %-52s %7s s   runs: %s\n' "(d2) drill's restore stage, DRILL_JOBS=2" "$d2_med" "${d2[*]}"
    printf '  %-52s %7s s   runs: %s\n' "     its download stage" "$(med "${d2_dl[@]}")" "${d2_dl[*]}"
    ratio "d2 / r2" "$d2_med" "$r2_med" 1.05
  else
    echo "  (d2) drill, DRILL_JOBS=2: failed in all $runs_restore runs"
  fi
fi
[ "$drill_failures" -eq 0 ] || echo "  $drill_failures drill(s) failed"
fi

[ "$runs_inserts" -gt 0 ] || exit $((agent_failures > 0))
echo
echo "3. inserts into the newest chunk at $rate/s during pgship-agent backup, compression and" \
  "retention policies due ${due_after} s into it, $runs_inserts run(s) each (pgbench ${pgbench_secs} s):"
for mode in pause run; do
  read -ra v99 <<< "${p99[$mode]}"; read -ra v50 <<< "${p50[$mode]}"; read -ra vmax <<< "${pmax[$mode]}"
  printf '  %-36s p50 %7s  p99 %8s  max %8s ms (median of runs)   p99 runs: %s\n' \
    "TIMESCALEDB_JOBS_DURING_DUMP=$mode" "$(med "${v50[@]}")" "$(med "${v99[@]}")" "$(med "${vmax[@]}")" "${p99[$mode]% }"
  printf '  %-36s %d of %d inserts over 1 s; policy runs started while pg_dump ran: %d; failed job runs: %d; deadlocks: %d; lock waits over 1 s: %d%s\n' \
    "" "${slow[$mode]}" "${txns[$mode]}" "${during[$mode]}" "${failed[$mode]}" "${deadlocks[$mode]}" "${waits[$mode]}" \
    "$([ "${bfail[$mode]}" = 0 ] || echo "; ${bfail[$mode]} backup(s) failed")"
done
awk -v p="$(read -ra x <<< "${p99[pause]}"; med "${x[@]}")" -v r="$(read -ra x <<< "${p99[run]}"; med "${x[@]}")" \
  'BEGIN { if (p > 0) printf "  p99 run / pause: %.1fx\n", r / p }'
[ "$agent_failures" -eq 0 ]
