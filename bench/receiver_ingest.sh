#!/usr/bin/env bash
# Receiver ingest benchmark: upload a large file over loopback with curl to pgship-receiver and,
# side by side on the same disk in the same run, write the same bytes with dd (the disk's
# ceiling) and upload them to nginx storing request bodies in files (client_body_in_file_only;
# skipped when nginx is not installed). Then 16 concurrent uploads. Prints MB/s, the ratio to
# dd, and the receiver's peak RSS (VmHWM). Not a pass/fail test.
#
#   bench/receiver_ingest.sh [SIZE_MIB] [BUILD_DIR]     (default 4096 MiB, build)
#
# Runs alternately RUNS times (default 3) and reports medians. Needs ~3x SIZE free on the disk
# holding BENCH_DIR (default: a temp dir under /var/tmp, not tmpfs).
#
# OLD_BUILD_DIR=DIR adds the receiver built there (another commit) to the alternation: each run
# then uploads with the new and the old receiver one after the other, and the medians of both,
# in MB/s and in the receiver's CPU seconds (user + system, the CPU-bound figure; this disk's
# throughput swings twofold), are printed as new / old. BENCH_DIR=/dev/shm takes the disk out.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib="${1:-4096}"
build_dir="${2:-build}"
runs="${RUNS:-3}"
receiver="$build_dir/receiver/pgship-receiver"
[ -x "$receiver" ] || { echo "build first: $receiver not found" >&2; exit 1; }
old_receiver=""
if [ -n "${OLD_BUILD_DIR:-}" ]; then
  old_receiver="$OLD_BUILD_DIR/receiver/pgship-receiver"
  [ -x "$old_receiver" ] || { echo "build first: $old_receiver not found" >&2; exit 1; }
fi

work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/pgship-bench-XXXXXX")"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "# file: $size_mib MiB of random bytes in $work ($(df -h --output=source,fstype "$work" | tail -1))"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/src.bin"
bytes=$(stat -c %s "$work/src.bin")

start_receiver() {  # extra KEY=VALUE arguments go to its environment; RECEIVER= picks the binary
  rm -rf "$work/storage"
  env BACKUP_API_TOKEN=bench STORAGE_DIR="$work/storage" PORT=0 LISTEN_ADDR=127.0.0.1 \
    MIN_FREE_BYTES=1M LOG_LEVEL=warn MAX_CONCURRENT_UPLOADS=64 "$@" \
    "${RECEIVER:-$receiver}" > "$work/port.txt" 2> "$work/receiver.log" &
  pid=$!
  for _ in $(seq 50); do grep -q listening "$work/port.txt" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/port.txt")
}
# nginx as an upload sink: the body goes to a file on the same disk (kept, like an upload), the
# request is then answered 201 without passing the body on. Same 512 KiB write size as ours.
start_nginx() {
  command -v nginx > /dev/null || return 1
  nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/nginx-body"
  cat > "$work/nginx.conf" <<CONF
user $(id -un);
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $work/nginx-body;
  server {
    listen 127.0.0.1:$nginx_port;
    location = /upload {
      client_body_in_file_only on;
      client_body_buffer_size 512k;
      client_max_body_size 0;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Body-File \$request_body_file;
      proxy_pass http://127.0.0.1:$nginx_port/stored;
    }
    location = /stored { return 201; }
  }
}
CONF
  nginx -c "$work/nginx.conf" -p "$work"
  for _ in $(seq 50); do [ -s "$work/nginx.pid" ] && break; sleep 0.1; done
}
stop_receiver() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
# The receiver's CPU seconds so far (utime + stime; the name field has no spaces here).
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat"
}
# One raw upload of src.bin as backup number $1 to the running receiver; prints MB/s.
upload_once() {
  local t0 t1 code
  sync; t0=$(seconds)
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -T "$work/src.bin" \
    -H "Authorization: Bearer bench" -H "X-Backup-Name: bench-20260101-00$1.dump" \
    "http://127.0.0.1:$port/api/backup/upload")
  t1=$(seconds)
  [ "$code" = 201 ] || { echo "upload failed: HTTP $code" >&2; cat "$work/receiver.log" >&2; exit 1; }
  mbps "$bytes" "$(elapsed "$t0" "$t1")"
}
seconds() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

dd_rates=(); sha_rates=(); rx_rates=(); ngx_rates=(); rss=(); off_rates=()
new_rates=(); old_rates=(); new_cpu=(); old_cpu=()
have_nginx=false
start_nginx && have_nginx=true
for run in $(seq "$runs"); do
  # The receiver must hash every byte on its way to disk: hashing alone (OpenSSL, the same
  # SHA-256 code the receiver uses; coreutils sha256sum is 5x slower here) is that ceiling.
  t0=$(seconds); openssl dgst -sha256 "$work/src.bin" > /dev/null; t1=$(seconds)
  sha_rates+=("$(mbps "$bytes" "$(elapsed "$t0" "$t1")")")

  sync; t0=$(seconds)
  dd if="$work/src.bin" of="$work/dd.bin" bs=1M conv=fsync status=none
  t1=$(seconds); rm -f "$work/dd.bin"
  dd_rates+=("$(mbps "$bytes" "$(elapsed "$t0" "$t1")")")

  start_receiver
  sync; t0=$(seconds)
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -T "$work/src.bin" \
    -H "Authorization: Bearer bench" -H "X-Backup-Name: bench-20260101-0000$(printf %02d "$run").dump" \
    "http://127.0.0.1:$port/api/backup/upload")
  t1=$(seconds)
  [ "$code" = 201 ] || { echo "upload failed: HTTP $code" >&2; cat "$work/receiver.log" >&2; exit 1; }
  rx_rates+=("$(mbps "$bytes" "$(elapsed "$t0" "$t1")")")
  rss+=("$(peak_rss_kib)")
  stop_receiver

  # The same upload with the request limits off (RATE_LIMIT, AUTH_FAILURE_LIMIT,
  # MAX_CONNECTIONS_PER_IP; the run above has their defaults): what the limiter costs.
  start_receiver RATE_LIMIT=off AUTH_FAILURE_LIMIT=off MAX_CONNECTIONS_PER_IP=0
  sync; t0=$(seconds)
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -T "$work/src.bin" \
    -H "Authorization: Bearer bench" -H "X-Backup-Name: bench-20260101-0001$(printf %02d "$run").dump" \
    "http://127.0.0.1:$port/api/backup/upload")
  t1=$(seconds)
  [ "$code" = 201 ] || { echo "upload failed: HTTP $code" >&2; cat "$work/receiver.log" >&2; exit 1; }
  off_rates+=("$(mbps "$bytes" "$(elapsed "$t0" "$t1")")")
  stop_receiver

  if [ -n "$old_receiver" ]; then
    # New, then old, then new again in the next run: each build gets the same share of the
    # disk's and the CPU's moods.
    for which in new old; do
      if [ "$which" = old ]; then RECEIVER="$old_receiver" start_receiver; else start_receiver; fi
      rate=$(upload_once "02$(printf %02d "$run")")
      cpu=$(cpu_seconds)
      stop_receiver
      if [ "$which" = old ]; then old_rates+=("$rate"); old_cpu+=("$cpu")
      else new_rates+=("$rate"); new_cpu+=("$cpu"); fi
    done
  fi

  if $have_nginx; then
    # nginx does not fsync the body file: `sync` of its file system stands in for that.
    sync; t0=$(seconds)
    code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -T "$work/src.bin" \
      "http://127.0.0.1:$nginx_port/upload")
    sync -f "$work/nginx-body"; t1=$(seconds)
    [ "$code" = 201 ] || { echo "nginx upload failed: HTTP $code" >&2; exit 1; }
    ngx_rates+=("$(mbps "$bytes" "$(elapsed "$t0" "$t1")")")
    find "$work/nginx-body" -type f -delete
  fi
done
dd_med=$(printf '%s\n' "${dd_rates[@]}" | median)
rx_med=$(printf '%s\n' "${rx_rates[@]}" | median)
sha_med=$(printf '%s\n' "${sha_rates[@]}" | median)
echo
echo "single upload of $size_mib MiB, median of $runs alternating runs (each includes fsync):"
printf '  %-28s %6s MB/s   runs: %s\n' "dd bs=1M conv=fsync" "$dd_med" "${dd_rates[*]}"
printf '  %-28s %6s MB/s   runs: %s\n' "openssl dgst -sha256" "$sha_med" "${sha_rates[*]}"
printf '  %-28s %6s MB/s   runs: %s\n' "curl -> pgship-receiver" "$rx_med" "${rx_rates[*]}"
off_med=$(printf '%s\n' "${off_rates[@]}" | median)
printf '  %-28s %6s MB/s   runs: %s\n' "  the same, limits off" "$off_med" "${off_rates[*]}"
awk -v a="$rx_med" -v b="$off_med" 'BEGIN { printf "  limits on / off: %.3f (the limiter costs %.1f %%; target <= 2 %%)\n", a / b, 100 * (1 - a / b) }'
if $have_nginx; then
  ngx_med=$(printf '%s\n' "${ngx_rates[@]}" | median)
  printf '  %-28s %6s MB/s   runs: %s\n' "curl -> nginx (to file)+sync" "$ngx_med" "${ngx_rates[*]}"
fi
awk -v a="$rx_med" -v b="$dd_med" 'BEGIN { printf "  receiver / dd: %.0f %%\n", 100 * a / b }'
awk -v a="$rx_med" -v b="$sha_med" 'BEGIN { printf "  receiver / openssl sha256: %.0f %%\n", 100 * a / b }'
# One upload is one SHA-256 stream, which cannot be split over cores: no receiver that checks
# the hash can beat the slower of the disk and one core's hashing.
awk -v a="$rx_med" -v d="$dd_med" -v h="$sha_med" 'BEGIN {
  c = d < h ? d : h
  printf "  receiver / min(dd, sha256) = %.0f %% of %s (%d MB/s)\n", 100 * a / c, d < h ? "dd" : "sha256", c
}'
if $have_nginx; then
  awk -v a="$rx_med" -v b="$ngx_med" 'BEGIN { printf "  receiver / nginx: %.0f %%\n", 100 * a / b }'
fi
echo "  receiver peak RSS: $(printf '%s\n' "${rss[@]}" | sort -n | tail -1) KiB (max over runs)"
if [ -n "$old_receiver" ]; then
  nr=$(printf '%s\n' "${new_rates[@]}" | median); or=$(printf '%s\n' "${old_rates[@]}" | median)
  nc=$(printf '%s\n' "${new_cpu[@]}" | median); oc=$(printf '%s\n' "${old_cpu[@]}" | median)
  echo
  echo "new ($build_dir) against old ($OLD_BUILD_DIR), alternating, medians of $runs:"
  printf '  %-28s %6s MB/s   runs: %s\n' "new receiver" "$nr" "${new_rates[*]}"
  printf '  %-28s %6s MB/s   runs: %s\n' "old receiver" "$or" "${old_rates[*]}"
  printf '  %-28s %6s s      runs: %s\n' "new receiver CPU" "$nc" "${new_cpu[*]}"
  printf '  %-28s %6s s      runs: %s\n' "old receiver CPU" "$oc" "${old_cpu[*]}"
  awk -v a="$nr" -v b="$or" -v c="$nc" -v d="$oc" 'BEGIN {
    printf "  throughput new / old: %.3f; CPU seconds new / old: %.3f (target: within 3 %%)\n", a / b, c / d
  }'
fi

# 16 concurrent uploads of SIZE/16 each.
part_mib=$((size_mib / 16))
head -c "$((part_mib * 1024 * 1024))" "$work/src.bin" > "$work/part.bin"
rm -f "$work/src.bin"
start_receiver
sync; t0=$(seconds)
for i in $(seq -w 1 16); do
  curl -sS -o /dev/null -X POST -T "$work/part.bin" -H "Authorization: Bearer bench" \
    -H "X-Backup-Name: db$i-20260101-000000.dump" "http://127.0.0.1:$port/api/backup/upload" &
done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
t1=$(seconds)
stored=$(find "$work/storage" -name '*.dump' | wc -l)
echo
echo "16 concurrent uploads of $part_mib MiB: $(mbps "$((part_mib * 16 * 1024 * 1024))" "$(elapsed "$t0" "$t1")") MB/s total, $stored/16 stored, receiver peak RSS $(peak_rss_kib) KiB"
stop_receiver
