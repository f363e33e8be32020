#!/usr/bin/env bash
# Backup benchmark: one backup of a trading-like database, three ways, on the same throwaway
# PostgreSQL 15 cluster, the same pg_dump and the same disk:
#   (a) bare `pg_dump -Fc -Z6 -f FILE` (the floor);
#   (b) the old bash tool: pg_dump, sha256sum, sha256sum -c, curl POST to pgship-receiver;
#   (c) `pgship-agent backup` (dump, hash, verify, tus upload to pgship-receiver, rotate),
#       under /usr/bin/time -v for its peak RSS (the largest of the agent and its children,
#       pg_dump among them: pg_dump's own, measured in (a), is printed beside it).
# Prints the median and every run's seconds, b/a and c/a, and the agent's peak RSS against the
# targets (c/a <= 1.05, peak RSS < 32 MiB). Not a pass/fail test; exits 1 if an agent run
# failed, after printing the rest.
#
#   SIZE_GB=1 RUNS=3 BUILD_DIR=build bench/backup_vs_pg_dump.sh
#
# SIZE_GB (default 1, fractions fine) is the table data to generate, in GiB: random but
# seeded trades, order events with jsonb and a bytea signature, whose pg_dump -Fc -Z6
# compresses about 3:1 against the tables (like real data; pgbench's filler compresses 50:1).
# Loading takes about 20 s per 0.2 GiB on 2 cores. Runs alternate a, b, c RUNS times (default 3).
# SKIP_AGENT=1 leaves (c) out. Z9=1 adds (d) `pg_dump -Fc -Z9`, the old tool's level, to the
# alternation and prints its size and time against (a)'s -Z6 (pgship's default COMPRESS_LEVEL).
# COMPARE_COUNTS=1 also runs (c0) the agent with ROW_COUNTS=off, and prints what (c), with the
# default ROW_COUNTS=exact (count(*) of every table in the dump's snapshot), costs against it
# (target c / c0 <= 1.10). ZSTD=1 (the default; 0 leaves them out) adds (z0) bare
# `pg_dump -Fc -Z0 -f` (pg_dump's own floor) and (cz) the agent with COMPRESSION=zstd, and
# prints issue 14's figures (ZSTD_THREADS=N sets the agent's zstd workers): cz / a (target <= 0.35) with cz's file against a's (<= 0.95),
# cz / z0 (<= 1.15), c / a (<= 1.02) and the zstd agent's peak RSS (<= 64 MiB). It also runs
# (cr), the agent with COMPRESSION=pg_dump and UPLOAD_RATE_LIMIT set to a's dump bytes / a's
# seconds (a link exactly as fast as the dump): its wall time against max(dump, transfer),
# which is a's time (target <= 1.15; a dump, then an upload, would take about 2x). Needs the PostgreSQL 15 server tools in
# /usr/lib/postgresql/15/bin; as root the cluster runs as the postgres user. Needs ~3x SIZE_GB
# free on the disk holding BENCH_DIR (default: a temp dir under /var/tmp, not tmpfs).
# OLD_BUILD_DIR=DIR adds (co), the agent built there (another commit), right after (c) in every
# run, and prints (c) against (co): wall seconds and CPU seconds (user + system of the agent and
# its children, the CPU-bound figure) as new / old medians (a refactoring's target: within 3 %).
set -euo pipefail
cd "$(dirname "$0")/.."

size_gb="${SIZE_GB:-1}"
runs="${RUNS:-3}"
build_dir="${BUILD_DIR:-build}"
skip_agent="${SKIP_AGENT:-0}"
with_z9="${Z9:-0}"
compare_counts="${COMPARE_COUNTS:-0}"
with_zstd="${ZSTD:-1}"
pg_bin=/usr/lib/postgresql/15/bin
receiver="$build_dir/receiver/pgship-receiver"
agent="$build_dir/agent/pgship-agent"
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL 15 server tools not found in $pg_bin" >&2; exit 1; }
[ -x "$receiver" ] || { echo "build first: $receiver not found" >&2; exit 1; }
[ "$skip_agent" = 1 ] || [ -x "$agent" ] || { echo "build first: $agent not found" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found (apt-get install time)" >&2; exit 1; }
old_agent=""
if [ -n "${OLD_BUILD_DIR:-}" ]; then
  old_agent="$OLD_BUILD_DIR/agent/pgship-agent"
  [ -x "$old_agent" ] || { echo "build first: $old_agent not found" >&2; exit 1; }
fi
# User + system seconds from a /usr/bin/time -v report.
cpu_of() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$1"; }

# shellcheck source=bench/lib/trading_db.sh
. bench/lib/trading_db.sh

# pg_dump once untimed: the dump size, and the first read of every table after the restart.
pg_dump_cmd=("$pg_bin/pg_dump" -h 127.0.0.1 -p "$port" -U postgres -Fc -Z6)
PGPASSWORD="$password" "${pg_dump_cmd[@]}" -f "$work/warm.dump" trading
dump_bytes=$(stat -c %s "$work/warm.dump")
rm -f "$work/warm.dump"
echo "# tables $(mib "$tables") MiB, pg_database_size $(mib "$db_bytes") MiB," \
  "pg_dump -Fc -Z6 $(mib "$dump_bytes") MiB:" \
  "$(awk -v t="$tables" -v d="$dump_bytes" -v db="$db_bytes" \
       'BEGIN { printf "tables/dump %.2f:1, database/dump %.2f:1", t / d, db / d }')"

# --- the receiver, for (b) and (c) ---
start_receiver

write_agent_env "$work/agent.env"
echo "ROW_COUNTS=exact" >> "$work/agent.env"

c0_secs=(); a_secs=(); b_secs=(); c_secs=(); d_secs=(); d_bytes=(); rss=(); dump_rss=(); agent_failures=0
z0_secs=(); cz_secs=(); cz_bytes=(); cz_rss=(); cr_secs=()
c_cpu=(); co_secs=(); co_cpu=()
sed 's/^COMPRESS_LEVEL=.*/COMPRESSION=zstd/' "$work/agent.env" > "$work/agent-zstd.env"
[ -z "${ZSTD_THREADS:-}" ] || echo "ZSTD_THREADS=$ZSTD_THREADS" >> "$work/agent-zstd.env"
for run in $(seq "$runs"); do
  if [ "$with_zstd" = 1 ]; then
    sync; t0=$(seconds)
    PGPASSWORD="$password" "$pg_bin/pg_dump" -h 127.0.0.1 -p "$port" -U postgres -Fc -Z0 \
      -f "$work/z0.dump" trading
    t1=$(seconds); rm -f "$work/z0.dump"
    z0_secs+=("$(elapsed "$t0" "$t1")")
    if [ "$skip_agent" != 1 ]; then
      sync; t0=$(seconds)
      if env -i PATH="$PATH" /usr/bin/time -v -o "$work/time-z.txt" \
           "$agent" backup --config "$work/agent-zstd.env" > "$work/agentz.out" 2> "$work/agentz.err"; then
        t1=$(seconds)
        cz_secs+=("$(elapsed "$t0" "$t1")")
        cz_rss+=("$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time-z.txt")")
        cz_bytes+=("$(stat -c %s "$(ls -t "$work"/agent-backups/trading-*.dump.zst | head -1)")")
      else
        agent_failures=$((agent_failures + 1))
        echo "agent (zstd) failed (run $run): $(head -1 "$work/agentz.err")" >&2
      fi
      sleep 1
    fi
  fi
  if [ "$with_z9" = 1 ]; then
    sync; t0=$(seconds)
    PGPASSWORD="$password" "$pg_bin/pg_dump" -h 127.0.0.1 -p "$port" -U postgres -Fc -Z9 \
      -f "$work/d.dump" trading
    t1=$(seconds)
    d_secs+=("$(elapsed "$t0" "$t1")")
    d_bytes+=("$(stat -c %s "$work/d.dump")")
    rm -f "$work/d.dump"
  fi
  if [ "$with_zstd" = 1 ] && [ "$skip_agent" != 1 ] && [ ${#a_secs[@]} -gt 0 ]; then
    # The link as fast as the first run's pg_dump -Z6: bytes of its dump / its seconds.
    rate=$(awk -v b="$dump_bytes" -v s="${a_secs[0]}" 'BEGIN { printf "%.0f", b / s }')
    sed "s/^COMPRESSION=.*//" "$work/agent.env" > "$work/agent-rate.env"
    echo "UPLOAD_RATE_LIMIT=$rate" >> "$work/agent-rate.env"
    sync; t0=$(seconds)
    if env -i PATH="$PATH" "$agent" backup --config "$work/agent-rate.env" \
         > "$work/agentr.out" 2> "$work/agentr.err"; then
      t1=$(seconds)
      cr_secs+=("$(elapsed "$t0" "$t1")")
    else
      agent_failures=$((agent_failures + 1))
      echo "agent (rate limited) failed (run $run): $(head -1 "$work/agentr.err")" >&2
    fi
    sleep 1
  fi
  sync; t0=$(seconds)
  PGPASSWORD="$password" /usr/bin/time -f %M -o "$work/a.rss" \
    "${pg_dump_cmd[@]}" -f "$work/a.dump" trading
  t1=$(seconds); rm -f "$work/a.dump"
  a_secs+=("$(elapsed "$t0" "$t1")")
  dump_rss+=("$(tail -1 "$work/a.rss")")

  name="trading-20260101-0000$(printf %02d "$run").dump"
  sync; t0=$(seconds)
  PGPASSWORD="$password" "${pg_dump_cmd[@]}" -f "$work/$name" trading
  sha256sum "$work/$name" > "$work/$name.sha256"
  sha256sum -c --quiet "$work/$name.sha256"
  curl -sS -f -o /dev/null -X POST -T "$work/$name" -H "Authorization: Bearer bench" \
    -H "X-Backup-Name: $name" "http://127.0.0.1:$rx_port/api/backup/upload"
  t1=$(seconds); rm -f "$work/$name" "$work/$name.sha256"
  b_secs+=("$(elapsed "$t0" "$t1")")

  [ "$skip_agent" = 1 ] && continue
  if [ "$compare_counts" = 1 ]; then
    sed 's/^ROW_COUNTS=.*/ROW_COUNTS=off/' "$work/agent.env" > "$work/agent-off.env"
    sync; t0=$(seconds)
    if env -i PATH="$PATH" "$agent" backup --config "$work/agent-off.env" \
         > "$work/agent0.out" 2> "$work/agent0.err"; then
      t1=$(seconds)
      c0_secs+=("$(elapsed "$t0" "$t1")")
    else
      echo "agent (ROW_COUNTS=off) failed (run $run): $(head -1 "$work/agent0.err")" >&2
    fi
    sleep 1
  fi
  sync; t0=$(seconds)
  if env -i PATH="$PATH" /usr/bin/time -v -o "$work/time.txt" \
       "$agent" backup --config "$work/agent.env" > "$work/agent.out" 2> "$work/agent.err"; then
    t1=$(seconds)
    c_secs+=("$(elapsed "$t0" "$t1")")
    c_cpu+=("$(cpu_of "$work/time.txt")")
    rss+=("$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")")
  else
    agent_failures=$((agent_failures + 1))
    first=$(cat "$work/agent.err" "$work/agent.out" | grep -m1 . || true)
    status=$(awk -F': ' '/Exit status/ { print $2 }' "$work/time.txt" 2>/dev/null || true)
    echo "agent failed (run $run, exit ${status:-?}): ${first:-no output}" >&2
  fi
  sleep 1  # the agent names its backup by the second: two in one second would collide
  if [ -n "$old_agent" ]; then
    sync; t0=$(seconds)
    if env -i PATH="$PATH" /usr/bin/time -v -o "$work/time-old.txt" \
         "$old_agent" backup --config "$work/agent.env" > "$work/agento.out" 2> "$work/agento.err"; then
      t1=$(seconds)
      co_secs+=("$(elapsed "$t0" "$t1")")
      co_cpu+=("$(cpu_of "$work/time-old.txt")")
    else
      agent_failures=$((agent_failures + 1))
      echo "old agent failed (run $run): $(head -1 "$work/agento.err")" >&2
    fi
    sleep 1
  fi
done

# A run of (c) that exits 0 without uploading would look fast: count what the receiver holds.
stored=$(find "$work/storage" -name '*.dump' -o -name '*.dump.zst' | wc -l)
expected=$((runs + ${#c_secs[@]} + ${#c0_secs[@]} + ${#cz_secs[@]} + ${#cr_secs[@]} + ${#co_secs[@]}))
[ "$stored" -eq "$expected" ] ||
  echo "warning: the receiver holds $stored backups, expected $expected ($runs from b)" >&2

a_med=$(printf '%s\n' "${a_secs[@]}" | median)
b_med=$(printf '%s\n' "${b_secs[@]}" | median)
echo
echo "backup of trading ($(mib "$tables") MiB of tables, $(mib "$dump_bytes") MiB dump)," \
  "median of $runs alternating runs, seconds:"
printf '  %-40s %7s s   runs: %s\n' "(a) pg_dump -Fc -Z6" "$a_med" "${a_secs[*]}"
printf '  %-40s %7s s   runs: %s\n' "(b) pg_dump + sha256sum x2 + curl POST" "$b_med" "${b_secs[*]}"
awk -v b="$b_med" -v a="$a_med" 'BEGIN { printf "  b / a: %.3f\n", b / a }'
if [ "$with_z9" = 1 ]; then
  d_med=$(printf '%s\n' "${d_secs[@]}" | median)
  printf '  %-40s %7s s   runs: %s\n' "(d) pg_dump -Fc -Z9 (the old tool)" "$d_med" "${d_secs[*]}"
  awk -v d="$d_med" -v a="$a_med" -v zd="${d_bytes[0]}" -v za="$dump_bytes" 'BEGIN {
    printf "  -Z9 vs -Z6: time d / a %.3f, size %.1f vs %.1f MiB (-Z9/-Z6 %.3f)\n",
      d / a, zd / 1048576, za / 1048576, zd / za }'
fi
if [ "$skip_agent" = 1 ]; then
  echo "  (c) pgship-agent backup: skipped (SKIP_AGENT=1)"
elif [ ${#c_secs[@]} -eq 0 ]; then
  echo "  (c) pgship-agent backup: failed in all $runs runs"
else
  c_med=$(printf '%s\n' "${c_secs[@]}" | median)
  printf '  %-40s %7s s   runs: %s\n' "(c) pgship-agent backup" "$c_med" "${c_secs[*]}"
  [ "$agent_failures" -eq 0 ] || echo "      ($agent_failures of $runs agent runs failed, left out)"
  awk -v c="$c_med" -v a="$a_med" \
    'BEGIN { r = c / a; printf "  c / a: %.3f   (target <= 1.05: %s)\n", r, r <= 1.05 ? "met" : "MISSED" }'
  if [ ${#c0_secs[@]} -gt 0 ]; then
    c0_med=$(printf '%s\n' "${c0_secs[@]}" | median)
    printf '  %-40s %7s s   runs: %s\n' "(c0) pgship-agent backup, ROW_COUNTS=off" "$c0_med" "${c0_secs[*]}"
    awk -v c="$c_med" -v z="$c0_med" 'BEGIN { r = c / z
      printf "  c / c0 (exact counts vs none): %.3f   (target <= 1.10: %s)\n", r, r <= 1.10 ? "met" : "MISSED" }'
  fi
  max_rss=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
  awk -v k="$max_rss" 'BEGIN { m = k / 1024
    printf "  agent peak RSS: %.1f MiB, max over runs (target < 32 MiB: %s)\n", m, m < 32 ? "met" : "MISSED" }'
  # time -v reports the largest of the agent and its children, pg_dump among them.
  awk -v k="$(printf '%s\n' "${dump_rss[@]}" | sort -n | tail -1)" \
    'BEGIN { printf "      (the largest of the agent and its children; pg_dump alone in (a): %.1f MiB)\n", k / 1024 }'
fi
if [ ${#cz_secs[@]} -gt 0 ]; then
  z0_med=$(printf '%s\n' "${z0_secs[@]}" | median)
  cz_med=$(printf '%s\n' "${cz_secs[@]}" | median)
  echo
  echo "COMPRESSION=zstd (issue 14's a, b, c, d):"
  printf '  %-40s %7s s   runs: %s\n' "(b) pg_dump -Fc -Z0" "$z0_med" "${z0_secs[*]}"
  printf '  %-40s %7s s   runs: %s\n' "(d) pgship-agent backup, COMPRESSION=zstd" "$cz_med" "${cz_secs[*]}"
  awk -v d="$cz_med" -v a="$a_med" -v b="$z0_med" -v c="${c_med:-0}" -v zd="${cz_bytes[0]}" \
      -v za="$dump_bytes" -v k="$(printf '%s\n' "${cz_rss[@]}" | sort -n | tail -1)" 'BEGIN {
    r = d / a; printf "  d / a: %.3f   (target <= 0.35: %s)\n", r, r <= 0.35 ? "met" : "MISSED"
    r = zd / za; printf "  d size / a size: %.3f (%.1f vs %.1f MiB)   (target <= 0.95: %s)\n", r,
      zd / 1048576, za / 1048576, r <= 0.95 ? "met" : "MISSED"
    r = d / b; printf "  d / b: %.3f   (target <= 1.15: %s)\n", r, r <= 1.15 ? "met" : "MISSED"
    if (c > 0) { r = c / a; printf "  c / a: %.3f   (target <= 1.02: %s)\n", r, r <= 1.02 ? "met" : "MISSED" }
    m = k / 1024; printf "  zstd agent peak RSS: %.1f MiB   (target <= 64 MiB: %s)\n", m, m <= 64 ? "met" : "MISSED" }'
fi
if [ ${#cr_secs[@]} -gt 0 ]; then
  cr_med=$(printf '%s\n' "${cr_secs[@]}" | median)
  printf '  %-40s %7s s   runs: %s\n' "(cr) agent, UPLOAD_RATE_LIMIT=dump rate" "$cr_med" "${cr_secs[*]}"
  awk -v r="$cr_med" -v a="$a_med" 'BEGIN { x = r / a
    printf "  cr / max(dump, transfer) = cr / a: %.3f   (target <= 1.15: %s)\n", x, x <= 1.15 ? "met" : "MISSED" }'
fi
if [ ${#co_secs[@]} -gt 0 ] && [ ${#c_secs[@]} -gt 0 ]; then
  co_med=$(printf '%s\n' "${co_secs[@]}" | median)
  c_cpu_med=$(printf '%s\n' "${c_cpu[@]}" | median)
  co_cpu_med=$(printf '%s\n' "${co_cpu[@]}" | median)
  echo
  echo "new ($build_dir) against old ($OLD_BUILD_DIR), alternating, medians:"
  printf '  %-40s %7s s   runs: %s\n' "(c) new agent, wall" "$c_med" "${c_secs[*]}"
  printf '  %-40s %7s s   runs: %s\n' "(co) old agent, wall" "$co_med" "${co_secs[*]}"
  printf '  %-40s %7s s   runs: %s\n' "(c) new agent + children, CPU" "$c_cpu_med" "${c_cpu[*]}"
  printf '  %-40s %7s s   runs: %s\n' "(co) old agent + children, CPU" "$co_cpu_med" "${co_cpu[*]}"
  awk -v a="$c_med" -v b="$co_med" -v c="$c_cpu_med" -v d="$co_cpu_med" 'BEGIN {
    printf "  wall new / old: %.3f; CPU new / old: %.3f (target: within 3 %%)\n", a / b, c / d }'
fi
[ "$agent_failures" -eq 0 ]
