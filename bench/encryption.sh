#!/usr/bin/env bash
# Encryption benchmark (issue 15): what ENCRYPT_RECIPIENTS costs a backup, and how fast the
# age filter runs on one core beside the primitive it is built on.
#   (c)   `pgship-agent backup` (COMPRESSION=pg_dump), unencrypted;
#   (ce)  the same with ENCRYPT_RECIPIENTS set to two recipients (.dump.age);
#   (cz)  the same with COMPRESSION=zstd; (cze) zstd and encrypted (.dump.zst.age);
# alternating RUNS times on one trading-like database (bench/lib/trading_db.sh), each under
# /usr/bin/time -v. Prints medians and every run, ce / c and cze / cz (target <= 1.05), and
# the agent's peak RSS both ways; then, pinned to one core, bench/age_throughput.cpp
# (pgship_age_bench: the age filter encrypting and decrypting in memory, target >= 1 GB/s)
# beside `openssl speed -evp chacha20-poly1305 -bytes 65536`.
#
#   SIZE_GB=1 RUNS=3 BUILD_DIR=build bench/encryption.sh
set -euo pipefail
cd "$(dirname "$0")/.."

size_gb="${SIZE_GB:-1}"
runs="${RUNS:-3}"
build_dir="${BUILD_DIR:-build}"
pg_bin=/usr/lib/postgresql/15/bin
receiver="$build_dir/receiver/pgship-receiver"
agent="$build_dir/agent/pgship-agent"
age_bench="$build_dir/bench/pgship_age_bench"
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL 15 server tools not found in $pg_bin" >&2; exit 1; }
[ -x "$receiver" ] && [ -x "$agent" ] && [ -x "$age_bench" ] ||
  { echo "build first: $agent, $receiver, $age_bench" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found (apt-get install time)" >&2; exit 1; }
command -v age-keygen > /dev/null || { echo "age-keygen not found (apt-get install age)" >&2; exit 1; }

# shellcheck source=bench/lib/trading_db.sh
. bench/lib/trading_db.sh
start_receiver
write_agent_env "$work/agent.env"
echo "ROW_COUNTS=exact" >> "$work/agent.env"
age-keygen -o "$work/drill.key" 2> /dev/null
age-keygen -o "$work/offline.key" 2> /dev/null
recipients="$(age-keygen -y "$work/drill.key"),$(age-keygen -y "$work/offline.key")"
sed 's/^COMPRESS_LEVEL=.*/COMPRESSION=zstd/' "$work/agent.env" > "$work/agent-zstd.env"
for f in agent agent-zstd; do
  cp "$work/$f.env" "$work/$f-age.env"
  echo "ENCRYPT_RECIPIENTS=$recipients" >> "$work/$f-age.env"
done

declare -A secs rss bytes
failures=0
backup() {  # $1 label, $2 config
  sync; local t0 t1
  t0=$(seconds)
  if env -i PATH="$PATH" /usr/bin/time -v -o "$work/time-$1.txt" \
       "$agent" backup --config "$2" > "$work/$1.out" 2> "$work/$1.err"; then
    t1=$(seconds)
    secs[$1]+="$(elapsed "$t0" "$t1") "
    rss[$1]+="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time-$1.txt") "
    bytes[$1]+="$(stat -c %s "$(ls -t "$work"/agent-backups/trading-* | grep -v -e json -e sha256 | head -1)") "
  else
    failures=$((failures + 1))
    echo "agent ($1) failed: $(head -3 "$work/$1.err")" >&2
  fi
  sleep 1
}
for run in $(seq "$runs"); do
  backup c "$work/agent.env"
  backup ce "$work/agent-age.env"
  backup cz "$work/agent-zstd.env"
  backup cze "$work/agent-zstd-age.env"
done
med() { tr ' ' '\n' <<< "${1% }" | grep . | median; }

echo "# tables $(mib "$tables") MiB, pg_database_size $(mib "$db_bytes") MiB, runs $runs"
for k in c ce cz cze; do
  echo "$k: median $(med "${secs[$k]:-}") s (runs: ${secs[$k]:-}) file $(mib "$(med "${bytes[$k]:-0}")") MiB, peak RSS $(( $(med "${rss[$k]:-0}") / 1024 )) MiB"
done
ratio() { awk -v a="$(med "$1")" -v b="$(med "$2")" -v t="$3" \
  'BEGIN { r = a / b; printf "%.3f (target <= %s: %s)", r, t, (r <= t ? "met" : "MISSED") }'; }
echo "ce / c   = $(ratio "${secs[ce]}" "${secs[c]}" 1.05)"
echo "cze / cz = $(ratio "${secs[cze]}" "${secs[cz]}" 1.05)"

echo "# one core: the age filter, and the primitive alone (OpenSSL, 64 KiB messages)"
taskset -c 0 "$age_bench" 512 5
taskset -c 0 openssl speed -evp chacha20-poly1305 -bytes 65536 -seconds 3 2> /dev/null |
  awk '/^ChaCha20-Poly1305/ { v = $2; sub(/k$/, "", v); printf "openssl speed chacha20-poly1305 64 KiB: %.2f GB/s\n", v * 1000 / 1e9 }'
[ "$failures" = 0 ] || exit 1
