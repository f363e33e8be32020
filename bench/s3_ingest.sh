#!/usr/bin/env bash
# S3 ingest benchmark: one large upload into OpenStack Swift's S3 API (the project's fixture,
# tests/support/swift/swift-s3.sh) two ways, alternating RUNS times (default 3):
#   (a) direct: `openssl dgst -sha256` of the file, then a SigV4-signed `curl -T` PUT carrying
#       that hash in x-amz-content-sha256 (a client that hashes before it sends, as the agent
#       does). Timed together, and the PUT alone;
#   (b) through pgship-receiver with STORAGE_BACKEND=s3: `curl -T` to /api/backup/upload,
#       timed from the request's start to its 201 (the receiver's start-up is not timed). The
#       receiver spools the body, ships it as a multipart upload while it arrives and commits
#       (object, .sha256, .json) after the last part.
# Prints MB/s per run and the medians, receiver / direct against the target >= 0.8, and the
# receiver's peak RSS (VmHWM, read before it stops) against the target <= 64 MiB. The first
# run also GETs the receiver's object back and checks its SHA-256. Not a pass/fail test.
#
#   bench/s3_ingest.sh [SIZE_MIB] [BUILD_DIR]     (default 4096 MiB, build)
#
# The file is random bytes: the receiver neither compresses nor inspects a body, so what the
# bytes are does not matter to it, and random bytes cannot be shortened by anything on the way.
# Swift runs on this machine: its four servers are single Python processes (workers = 0), so
# on few cores the engine, not the client, sets the pace of both paths. The objects are
# deleted after each run (Swift's disk would fill otherwise). Needs ~3x SIZE free under
# BENCH_DIR (default /var/tmp, not tmpfs): the file, the receiver's spool and Swift's copy.
# Needs Debian's swift packages (deploy/install-deps.sh) and /usr/bin/python3.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib="${1:-${SIZE_MIB:-4096}}"
build_dir="${2:-${BUILD_DIR:-build}}"
runs="${RUNS:-3}"
receiver="$build_dir/receiver/pgship-receiver"
# S3_ENGINE=ceph runs the same against Ceph RGW (tests/support/ceph/ceph-rgw.sh), in a bucket
# of its own without object lock (a locked bucket keeps every deleted version).
engine="${S3_ENGINE:-swift}"
case $engine in
  swift) fixture=tests/support/swift/swift-s3.sh ;;
  ceph) fixture=tests/support/ceph/ceph-rgw.sh ;;
  *) echo "S3_ENGINE is swift or ceph" >&2; exit 2 ;;
esac
[ -x "$receiver" ] || { echo "build first: $receiver not found" >&2; exit 1; }

work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/pgship-bench-XXXXXX")"
# As root the Swift servers run as the swift user, who must pass through the work dir.
chmod 711 "$work"
pid=""
engine_started=false
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  $engine_started && "$fixture" stop "$work/engine" > /dev/null 2>&1
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need=$((3 * size_mib * 1024 * 1024))
avail=$(df -B1 --output=avail "$work" | tail -1)
if [ "$avail" -lt "$need" ]; then
  echo "need $((need >> 20)) MiB free under $work, have $((avail >> 20)) MiB" >&2
  exit 1
fi

seconds() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
sha256_of() { openssl dgst -sha256 -r "$@" | cut -d' ' -f1; }

# --- the engine, its bucket, and a curl config holding the key pair (not on any command line) ---
# ENGINE_CPUS / CLIENT_CPUS (taskset lists, e.g. 1 and 0): the engine on cores of its own, as
# it is when it runs on other machines; the client side (curl, openssl, the receiver) on the
# rest. Unset: everything shares every core.
engine_cpus=(); client_cpus=()
[ -n "${ENGINE_CPUS:-}" ] && engine_cpus=(taskset -c "$ENGINE_CPUS")
[ -n "${CLIENT_CPUS:-}" ] && client_cpus=(taskset -c "$CLIENT_CPUS")
"${engine_cpus[@]}" "$fixture" start "$work/engine" > /dev/null
engine_started=true
endpoint=$(sed -n 's/^S3_ENDPOINT=//p' "$work/engine/env")
bucket=$(sed -n 's/^S3_BUCKET=//p' "$work/engine/env")
[ "$engine" = ceph ] && bucket=bench-unlocked
(
  umask 077
  sed -n 's/^S3_ACCESS_KEY=//p' "$work/engine/env" | tr -d '\n' > "$work/access_key"
  sed -n 's/^S3_SECRET_KEY=//p' "$work/engine/env" | tr -d '\n' > "$work/secret_key"
  printf 'user = "%s:%s"\naws-sigv4 = "aws:amz:us-east-1:s3"\n' \
    "$(cat "$work/access_key")" "$(cat "$work/secret_key")" > "$work/s3.curlrc"
)
empty_sha=$(printf '' | sha256_of)
# s3 METHOD PATH PAYLOAD_SHA256 [curl arguments]: a signed request; prints the HTTP status.
# curl 7.88's --aws-sigv4 does not send x-amz-content-sha256 (Swift wants it): we do, and curl
# signs it. No -H 'Expect:': curl 7.88 then signs an empty expect header that it does not send
# (403 SignatureDoesNotMatch); both paths keep curl's Expect: 100-continue, answered at once.
s3() {
  local method=$1 path=$2 payload=$3; shift 3
  local pin=()
  [ -n "${client_cpus_prefix:-}" ] && pin=("${client_cpus[@]}")
  "${pin[@]}" curl -K "$work/s3.curlrc" -sS -o /dev/null -w '%{http_code}' -X "$method" \
    -H "x-amz-content-sha256: $payload" "$@" "$endpoint/$bucket$path"
}
# The fixture is ready once the proxy answers; the account and container servers behind it
# may still be starting (503), more so on a busy machine.
for _ in $(seq 100); do
  code=$(s3 PUT "" "$empty_sha")
  case $code in 5*) sleep 0.2 ;; *) break ;; esac
done
[ "$code" = 200 ] || { echo "creating bucket $bucket: HTTP $code" >&2; tail -n 20 "$work"/engine/log/*  >&2; exit 1; }

echo "# file: $size_mib MiB of random bytes in $work ($(df -h --output=source,fstype "$work" | tail -1))"
echo "# cores: engine ${ENGINE_CPUS:-all}, client and receiver ${CLIENT_CPUS:-all}"
echo "# engine: $engine at $endpoint, bucket $bucket; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/src.bin"
bytes=$(stat -c %s "$work/src.bin")
file_sha=$(sha256_of "$work/src.bin")  # for the receiver's X-Content-SHA256 and the check

prefix=bench/
start_receiver() {
  rm -rf "$work/spool"
  # S3_ENGINE carries a pgship prefix: it is this script's, not the receiver's.
  env -u S3_ENGINE BACKUP_API_TOKEN=bench STORAGE_DIR="$work/spool" PORT=0 LISTEN_ADDR=127.0.0.1 \
    MIN_FREE_BYTES=1M LOG_LEVEL=warn STORAGE_BACKEND=s3 S3_ENDPOINT="$endpoint" \
    S3_BUCKET="$bucket" S3_PREFIX="$prefix" S3_ACCESS_KEY_ID_FILE="$work/access_key" \
    S3_SECRET_ACCESS_KEY_FILE="$work/secret_key" \
    "${client_cpus[@]}" "$receiver" > "$work/port.txt" 2> "$work/receiver.log" &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$work/port.txt" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/port.txt")
  [ -n "$port" ] || { echo "receiver did not start:" >&2; cat "$work/receiver.log" >&2; exit 1; }
}
stop_receiver() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
remove_objects() {  # keys...: DELETE each (Swift removes a multipart object's segments too)
  local key code
  for key in "$@"; do
    code=$(s3 DELETE "/$key" "$empty_sha")
    [ "$code" = 204 ] || { echo "DELETE $key: HTTP $code" >&2; exit 1; }
  done
}

direct=(); put_only=(); rx=(); rss=(); verified="not checked"
for run in $(seq "$runs"); do
  # (a) direct: hash, then the signed PUT.
  key="direct/run$run.bin"
  sync; t0=$(seconds)
  sha=$("${client_cpus[@]}" openssl dgst -sha256 -r "$work/src.bin" | cut -d' ' -f1)
  t1=$(seconds)
  code=$(client_cpus_prefix=1 s3 PUT "/$key" "$sha" -T "$work/src.bin")
  t2=$(seconds)
  [ "$code" = 200 ] || { echo "direct PUT: HTTP $code" >&2; tail -n 20 "$work"/engine/log/*  >&2; exit 1; }
  direct+=("$(mbps "$bytes" "$(elapsed "$t0" "$t2")")")
  put_only+=("$(mbps "$bytes" "$(elapsed "$t1" "$t2")")")
  remove_objects "$key"

  # (b) through the receiver.
  name="app-20261201-0100$(printf %02d "$run").dump"
  start_receiver
  sync; t0=$(seconds)
  code=$("${client_cpus[@]}" curl -sS -o /dev/null -w '%{http_code}' -X POST -T "$work/src.bin" \
    -H "Authorization: Bearer bench" -H "X-Backup-Name: $name" -H "X-Content-SHA256: $file_sha" \
    "http://127.0.0.1:$port/api/backup/upload")
  t1=$(seconds)
  [ "$code" = 201 ] || { echo "receiver upload: HTTP $code" >&2; cat "$work/receiver.log" >&2; exit 1; }
  rx+=("$(mbps "$bytes" "$(elapsed "$t0" "$t1")")")
  rss+=("$(peak_rss_kib)")
  stop_receiver
  object="${prefix}default/app/$name"
  if [ "$run" = 1 ]; then  # a full read of the object: once
    got=$(curl -K "$work/s3.curlrc" -sS -f -H "x-amz-content-sha256: $empty_sha" \
      "$endpoint/$bucket/$object" | sha256_of)
    if [ "$got" = "$file_sha" ]; then verified="sha256 of the GET matches"; else
      echo "the stored object hashes to $got, the file to $file_sha" >&2; exit 1
    fi
  fi
  remove_objects "$object" "$object.sha256" "$object.json"
  note=""; [ "$run" != 1 ] || note="; $verified"
  printf 'run %d: direct %s MB/s (PUT alone %s MB/s), receiver %s MB/s, receiver peak RSS %s KiB%s\n' \
    "$run" "${direct[-1]}" "${put_only[-1]}" "${rx[-1]}" "${rss[-1]}" "$note"
done

direct_med=$(printf '%s\n' "${direct[@]}" | median)
put_med=$(printf '%s\n' "${put_only[@]}" | median)
rx_med=$(printf '%s\n' "${rx[@]}" | median)
rss_max=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
echo
echo "single upload of $size_mib MiB to $engine, median of $runs alternating runs:"
printf '  %-34s %6s MB/s   runs: %s\n' "openssl dgst + curl PUT (direct)" "$direct_med" "${direct[*]}"
printf '  %-34s %6s MB/s   runs: %s\n' "  the PUT alone" "$put_med" "${put_only[*]}"
printf '  %-34s %6s MB/s   runs: %s\n' "curl -> pgship-receiver -> S3" "$rx_med" "${rx[*]}"
awk -v a="$rx_med" -v b="$direct_med" -v p="$put_med" 'BEGIN {
  printf "  receiver / direct: %.2f (target >= 0.8: %s); receiver / PUT alone: %.2f\n",
    a / b, (a / b >= 0.8) ? "met" : "MISSED", a / p
}'
awk -v k="$rss_max" 'BEGIN {
  printf "  receiver peak RSS: %d KiB = %.1f MiB (max over runs; target <= 64 MiB: %s)\n",
    k, k / 1024, (k <= 65536) ? "met" : "MISSED"
}'
if [ -d "$work/engine/srv" ]; then
  left=$(du -sm "$work/engine/srv" | cut -f1)
  echo "  Swift's disk after the deletes: $left MiB"
fi
