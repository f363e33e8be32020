#!/usr/bin/env bash
# Base backup benchmark (issue 28): one physical base backup of the same trading-like database
# (bench/lib/trading_db.sh) on the same throwaway PostgreSQL 15 cluster and the same disk,
# three ways, in rotating order every iteration (p f s, f s p, s p f, ...), with `sync` and a
# pause before each run:
#   (p) `pgbackrest --type=full backup`: Debian's pgBackRest 2.45, compress-type=zst (level 3),
#       process-max=2, start-fast=y, a local repository on the same disk, no encryption. Its
#       stanza is set up on the bench cluster with archive_mode=on and `archive_command =
#       pgbackrest archive-push` (one restart at set-up), and archive-check=y (its default): a
#       pgBackRest backup, like pgship's, ends only once its archive holds the WAL up to the
#       backup's stop point, so both wait for their own WAL archive. With archive_mode on, the
#       server also makes pg_basebackup -X none wait until the archiver has pushed the stop
#       segment (in (f)); it checks once a second. pgship sends BASE_BACKUP with WAIT false
#       and waits for its own archive instead, so (s) has no such wait.
#   (f) the floor of a streamed base backup:
#       `pg_basebackup -Ft -D - -X none -c fast | zstd -3 -T0 > FILE` (FILE on the same disk,
#       deleted after the run; the default CRC32C manifest checksums).
#   (s) pgship: `pgship-agent basebackup` (one-shot) with COMPRESSION=zstd (ZSTD_LEVEL 3) and
#       age encryption (ENCRYPT_RECIPIENTS), uploaded to pgship-receiver on loopback; it sends
#       BASE_BACKUP (MANIFEST_CHECKSUMS 'SHA256', WAIT false) on its own replication connection
#       and ends once the receiver's WAL archive covers the backup's stop LSN. The WAL comes from a daemon
#       (`pgship-agent run`, WAL_STREAM=on, zstd + age, WAL_ACK_INTERVAL 1s, the default),
#       started before the first iteration and streaming the same cluster to the same receiver
#       for the whole bench (so it runs during (p) and (f) too).
# Prints, per iteration, the three wall times and the ratios s/p (target <= 1.0) and s/f
# (target <= 1.15), computed within the iteration (this virtual disk halves its throughput
# after a burst, so ratios across iterations mislead); then the medians of the ratios, the
# pgship run's stages (stream, wal wait) and the agent's peak RSS during its base backup
# (target <= 64 MiB): VmHWM of the one-shot agent process itself, read from /proc every 0.1 s
# while it runs (its high-water mark, so the last reading is its peak up to then), and beside
# it /usr/bin/time -v's maximum RSS, which is the largest of the agent and its children (it
# has none during a base backup). Not a pass/fail test; exits 1 if a run failed.
#
#   SIZE_GB=1 ITERATIONS=3 BUILD_DIR=build bench/basebackup.sh
#
# SHA256_FLOOR=1 adds (m), the floor with pgship's own manifest option
# (`--manifest-checksums=SHA256`, which the walsender computes while it reads: about 2 s per
# GiB here), to the rotation and prints s/m: pgship's cost beyond the command it runs.
# SIZE_GB (default 1, fractions fine): the table data the generator loads (about 20 s per
# 0.2 GiB on 2 cores). ITERATIONS (default 3). PAUSE (default 5) seconds after `sync` before
# each run. ZSTD_THREADS=N sets the agent's zstd workers (default: one per core).
# Needs the PostgreSQL 15 server tools in /usr/lib/postgresql/15/bin, pgbackrest
# (`apt-get install pgbackrest`: 2.45 on Debian 12; deploy/install-deps.sh does not install it,
# no test needs it), zstd, age-keygen, /usr/bin/time (`apt-get install time`). As root the
# cluster and pgBackRest run as the postgres user. Needs about 4 x SIZE_GB free under
# BENCH_DIR (default /var/tmp): the cluster, pgBackRest's repository (one compressed full
# backup per iteration), the receiver's storage, the floor's file.
set -euo pipefail
cd "$(dirname "$0")/.."

size_gb="${SIZE_GB:-1}"
iterations="${ITERATIONS:-3}"
pause="${PAUSE:-5}"
build_dir="${BUILD_DIR:-build}"
pg_bin=/usr/lib/postgresql/15/bin
receiver="$build_dir/receiver/pgship-receiver"
agent="$build_dir/agent/pgship-agent"
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL 15 server tools not found in $pg_bin" >&2; exit 1; }
[ -x "$receiver" ] && [ -x "$agent" ] || { echo "build first: $agent, $receiver" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found (apt-get install time)" >&2; exit 1; }
command -v pgbackrest > /dev/null || { echo "pgbackrest not found (apt-get install pgbackrest)" >&2; exit 1; }
command -v zstd > /dev/null && command -v age-keygen > /dev/null ||
  { echo "zstd and age-keygen needed (apt-get install zstd age)" >&2; exit 1; }

# shellcheck source=bench/lib/trading_db.sh
. bench/lib/trading_db.sh

# shellcheck source=bench/lib/pgbackrest.sh
. bench/lib/pgbackrest.sh
echo "# database $(mib "$db_bytes") MiB (pg_database_size), tables $(mib "$tables") MiB;" \
  "$(pgbackrest version), $("$pg_bin/pg_basebackup" --version), $(zstd --version | head -1)"

# --- the receiver, the streaming daemon, the one-shot's config ---
start_receiver
age-keygen -o "$work/base.key" 2> /dev/null
recipient=$(age-keygen -y "$work/base.key")
write_agent_env "$work/agent.env"
# WAL_STREAM=on on the daemon's slot: the daemon's stream completes the one-shot's backup.
cat >> "$work/agent.env" <<EOF
COMPRESSION=zstd
ENCRYPT_RECIPIENTS=$recipient
WAL_STREAM=on
EOF
[ -z "${ZSTD_THREADS:-}" ] || echo "ZSTD_THREADS=$ZSTD_THREADS" >> "$work/agent.env"
sed "s|^BACKUP_DIR=.*|BACKUP_DIR=$work/daemon-backups|" "$work/agent.env" > "$work/daemon.env"
cat >> "$work/daemon.env" <<EOF
HEALTHCHECK_PORT=0
LISTEN_ADDR=127.0.0.1
SCHEDULE=0 0 1 1 *
EOF
env -i PATH="$PATH" "$agent" run --config "$work/daemon.env" > "$work/daemon.port" 2> "$work/daemon.log" &
bench_pids+=("$!")
for _ in $(seq 100); do grep -q listening "$work/daemon.port" 2> /dev/null && break; sleep 0.1; done
daemon_port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/daemon.port")
[ -n "$daemon_port" ] || { echo "the daemon did not start:" >&2; tail -20 "$work/daemon.log" >&2; exit 1; }
stream_up() {
  curl -s "http://127.0.0.1:$daemon_port/metrics" | awk '$1 == "pgship_wal_stream_up" { print $2 }'
}
for _ in $(seq 600); do [ "$(stream_up)" = 1 ] && break; sleep 0.1; done
[ "$(stream_up)" = 1 ] || { echo "the WAL stream did not come up:" >&2; tail -20 "$work/daemon.log" >&2; exit 1; }

# --- the three runs; each sets secs (and s sets its RSS figures) ---
failures=0
run_p() {
  sync; sleep "$pause"; local t0; t0=$(seconds)
  if backrest --type=full backup > "$work/p.out" 2>&1; then
    secs=$(elapsed "$t0" "$(seconds)")
  else
    secs=""; failures=$((failures + 1)); echo "pgbackrest failed: $(head -3 "$work/p.out")" >&2
  fi
}
run_f() {
  sync; sleep "$pause"; local t0; t0=$(seconds)
  if PGPASSWORD="$password" "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres \
       -Ft -D - -X none -c fast 2> "$work/f.err" | zstd -3 -T0 -q > "$work/floor.tar.zst"; then
    secs=$(elapsed "$t0" "$(seconds)")
    floor_bytes=$(stat -c %s "$work/floor.tar.zst")
  else
    secs=""; failures=$((failures + 1)); echo "the floor failed: $(head -3 "$work/f.err")" >&2
  fi
  rm -f "$work/floor.tar.zst"
}
run_m() {
  sync; sleep "$pause"; local t0; t0=$(seconds)
  if PGPASSWORD="$password" "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres \
       -Ft -D - -X none -c fast --manifest-checksums=SHA256 2> "$work/m.err" |
       zstd -3 -T0 -q > "$work/floor.tar.zst"; then
    secs=$(elapsed "$t0" "$(seconds)")
  else
    secs=""; failures=$((failures + 1)); echo "the SHA-256 floor failed: $(head -3 "$work/m.err")" >&2
  fi
  rm -f "$work/floor.tar.zst"
}
run_s() {
  sync; sleep "$pause"; local t0 tpid apid="" k v rest
  hwm=""; t0=$(seconds)
  env -i PATH="$PATH" /usr/bin/time -v -o "$work/time-s.txt" \
    "$agent" basebackup --config "$work/agent.env" > "$work/s.out" 2> "$work/s.err" &
  tpid=$!
  # The agent is /usr/bin/time's child: its own VmHWM, read until it exits.
  while kill -0 "$tpid" 2> /dev/null; do
    [ -n "$apid" ] || apid=$(ps -o pid= --ppid "$tpid" | tr -d ' ' | head -1 || true)
    if [ -n "$apid" ] && [ -r "/proc/$apid/status" ]; then
      while read -r k v rest; do [ "$k" = VmHWM: ] && hwm=$v; done < "/proc/$apid/status" || true
    fi
    sleep 0.1
  done
  if wait "$tpid"; then
    secs=$(elapsed "$t0" "$(seconds)")
    tree_rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time-s.txt")
  else
    secs=""; failures=$((failures + 1))
    echo "pgship-agent basebackup failed: $(cat "$work/s.out" "$work/s.err" | grep -m3 .)" >&2
  fi
}
# The newest run's stage seconds from the one-shot's run history.
stages_of_last_run() {
  tail -1 "$work/agent-backups/runs.jsonl" | python3 -c '
import json, sys
run = json.load(sys.stdin)
out = []
for d in run.get("databases", []):
    for s in d.get("stages", []):
        out.append("%s %.1f" % (s["name"], s["seconds"]))
print(", ".join(out))' 2> /dev/null || true
}

ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }' || echo "-"; }
sp=(); sf=(); sm=(); hwms=(); trees=(); p_all=(); f_all=(); s_all=(); m_all=()
runs=(p f s); with_m=""
[ "${SHA256_FLOOR:-0}" != 1 ] || { runs+=(m); with_m=1; }
echo
printf '%-4s %-7s %8s %8s %8s %7s %7s   %s\n' iter order "p (s)" "f (s)" "s (s)" s/p s/f "pgship stages (s); agent VmHWM / tree max RSS${with_m:+; m (s), s/m}"
for i in $(seq "$iterations"); do
  # Rotated by one each iteration: p f s, f s p, s p f, ...
  shift_by=$(( (i - 1) % ${#runs[@]} ))
  order="${runs[*]:$shift_by} ${runs[*]:0:$shift_by}"
  p=""; f=""; s=""; m=""; hwm=""; tree_rss=""
  for who in $order; do
    "run_$who"
    case $who in p) p=$secs ;; f) f=$secs ;; s) s=$secs ;; m) m=$secs ;; esac
  done
  [ -z "$m" ] || m_all+=("$m")
  r_sm=$(ratio "$s" "$m"); [ "$r_sm" = - ] || sm+=("$r_sm")
  [ -z "$p" ] || p_all+=("$p"); [ -z "$f" ] || f_all+=("$f"); [ -z "$s" ] || s_all+=("$s")
  r_sp=$(ratio "$s" "$p"); r_sf=$(ratio "$s" "$f")
  [ "$r_sp" = - ] || sp+=("$r_sp"); [ "$r_sf" = - ] || sf+=("$r_sf")
  [ -z "$s" ] || { hwms+=("$hwm"); trees+=("$tree_rss"); }
  printf '%-4s %-7s %8s %8s %8s %7s %7s   %s; %s / %s KiB%s\n' "$i" "${order// /}" "${p:--}" "${f:--}" \
    "${s:--}" "$r_sp" "$r_sf" "$(stages_of_last_run)" "${hwm:--}" "${tree_rss:--}" \
    "${with_m:+; ${m:--}, $r_sm}"
done

stored=$(find "$work/storage" -name 'pgdata-*.base.tar.zst.age' | wc -l)
manifests=$(find "$work/storage" -name 'pgdata-*.manifest.json.age' | wc -l)
repo_mib=$(du -sm "$work/pgbackrest-repo/backup" | cut -f1)
med() { [ $# -gt 0 ] && printf '%s\n' "$@" | median || echo "-"; }
echo
echo "base backup of $(mib "$db_bytes") MiB, $iterations iteration(s), medians:" \
  "p $(med "${p_all[@]}") s, f $(med "${f_all[@]}") s, s $(med "${s_all[@]}") s"
echo "  s/p $(med "${sp[@]}") (target <= 1.0)   s/f $(med "${sf[@]}") (target <= 1.15)" \
  "  [ratios within each iteration, then the median]"
[ -z "$with_m" ] ||
  echo "  s/m $(med "${sm[@]}") (m: the floor with --manifest-checksums=SHA256, median $(med "${m_all[@]}") s)"
echo "  agent peak RSS during its base backup: VmHWM of the agent process $(med "${hwms[@]}") KiB" \
  "(target <= 65536), /usr/bin/time max RSS of the agent and its children $(med "${trees[@]}") KiB"
echo "  stored: pgship $stored base backup(s) with $manifests manifest(s) on the receiver," \
  "the last $(mib "$(find "$work/storage" -name 'pgdata-*.base.tar.zst.age' -printf '%s\n' | tail -1)") MiB;" \
  "the floor's file $(mib "${floor_bytes:-0}") MiB; pgBackRest's repository ${repo_mib} MiB in total"
[ "$stored" -eq "${#s_all[@]}" ] && [ "$manifests" -eq "${#s_all[@]}" ] ||
  echo "warning: the receiver holds $stored base backups and $manifests manifests, expected ${#s_all[@]}" >&2
[ "$failures" -eq 0 ] || exit 1
