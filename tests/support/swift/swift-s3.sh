#!/usr/bin/env bash
# A throwaway OpenStack Swift with its s3api middleware on 127.0.0.1, for the S3 tests: one
# device, one replica, the four servers as foreground processes (workers = 0), tempauth with
# one user whose S3 key pair is random. Debian 12's swift packages (see deploy/install-deps.sh).
#
#   swift-s3.sh start DIR    starts in DIR (created); prints S3_ENDPOINT, S3_ACCESS_KEY,
#                            S3_SECRET_KEY, S3_BUCKET lines once a signed request succeeds
#   swift-s3.sh stop DIR     ends the servers DIR/pids names and removes DIR
#
# With SWIFT_TLS_CERT and SWIFT_TLS_KEY (PEM files) the S3 port speaks HTTPS (the proxy's own
# TLS, meant for tests), and S3_ENDPOINT says https.
set -euo pipefail
# Debian's own python: it has python3-swift (a pyenv or venv python on PATH would not).
here="$(cd "$(dirname "$0")" && pwd)"
cmd=${1:?start or stop}
dir=${2:?directory}

stop() {
  [ -f "$dir/pids" ] || return 0
  for p in $(cat "$dir/pids"); do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for p in $(cat "$dir/pids"); do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in $(cat "$dir/pids"); do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf -- "$dir"
}
[ "$cmd" = stop ] && { stop; exit 0; }
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

mkdir -p "$dir/etc" "$dir/srv/d1" "$dir/log"
# Five free loopback ports: S3 (the proxy), account, container, object, and memcache (which
# tempauth wants configured; SigV4 never needs a cached token, so nothing listens there).
read -r s3 account container object memcache < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
hex() { /usr/bin/python3 -c "import secrets; print(secrets.token_hex($1))"; }
access="AKIA$(hex 8 | tr a-f A-F)"
secret="$(hex 20)"
user=$(id -un)
if [ "$(id -u)" = 0 ]; then user=$(id swift > /dev/null 2>&1 && echo swift || echo nobody); fi

printf '[swift-hash]\nswift_hash_path_suffix = %s\nswift_hash_path_prefix = %s\n[storage-policy:0]\nname = default\ndefault = yes\n' \
  "$(hex 8)" "$(hex 8)" > "$dir/etc/swift.conf"
server_conf() {  # name port pipeline app-sections...
  local name=$1 port=$2 pipeline=$3; shift 3
  {
    printf '[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %s\nworkers = 0\nuser = %s\n' "$port" "$user"
    printf 'swift_dir = %s/etc\ndevices = %s/srv\nmount_check = false\nlog_name = %s\n' "$dir" "$dir" "$name"
    if [ "$name" = proxy ] && [ ${#proxy_tls[@]} -gt 0 ]; then printf '%s\n' "${proxy_tls[@]}"; fi
    printf '[pipeline:main]\npipeline = %s\n' "$pipeline"
    printf '%s\n' "$@"
  } > "$dir/etc/$name-server.conf"
}
for s in account container object; do
  eval "port=\$$s"
  server_conf "$s" "$port" "$s-server" "[app:$s-server]" "use = egg:swift#$s"
done
proxy_tls=()
if [ -n "${SWIFT_TLS_CERT:-}" ]; then
  cp "$SWIFT_TLS_CERT" "$dir/etc/proxy.crt"; cp "$SWIFT_TLS_KEY" "$dir/etc/proxy.key"
  proxy_tls=("cert_file = $dir/etc/proxy.crt" "key_file = $dir/etc/proxy.key")
fi
server_conf proxy "$s3" "catch_errors gatekeeper healthcheck cache s3api tempauth slo proxy-server" \
  "[app:proxy-server]" "use = egg:swift#proxy" "account_autocreate = true" \
  "[filter:s3api]" "use = egg:swift#s3api" "location = us-east-1" "allow_multipart_uploads = true" \
  "max_upload_part_num = 10000" \
  "[filter:tempauth]" "use = egg:swift#tempauth" "user_pgship_test = $secret .admin" \
  "s3_access_key = $access" \
  "[filter:cache]" "use = egg:swift#memcache" "memcache_servers = 127.0.0.1:$memcache" \
  "[filter:catch_errors]" "use = egg:swift#catch_errors" \
  "[filter:gatekeeper]" "use = egg:swift#gatekeeper" \
  "[filter:healthcheck]" "use = egg:swift#healthcheck" \
  "[filter:slo]" "use = egg:swift#slo"

/usr/bin/python3 "$here/swift_server.py" rings "$dir/etc" "$account" "$container" "$object"
[ "$(id -u)" = 0 ] && chown -R "$user" "$dir/srv" "$dir/log"
chmod 755 "$dir" "$dir/etc"; chmod 644 "$dir"/etc/*
for s in account container object proxy; do
  /usr/bin/python3 "$here/swift_server.py" "$s-server" "$dir/etc" "$user" > "$dir/log/$s.log" 2>&1 < /dev/null &
  echo $! >> "$dir/pids"
done

scheme=http; [ ${#proxy_tls[@]} -gt 0 ] && scheme=https
endpoint="$scheme://127.0.0.1:$s3"
printf 'S3_ENDPOINT=%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\nS3_BUCKET=pgship-test\n' \
  "$endpoint" "$access" "$secret" > "$dir/env"
# Ready once the S3 port answers (the bucket is made by the tests, signed by our own client).
# The proxy answers before the servers behind it listen (a request then gets 503): wait for
# their ports too.
listening() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
for _ in $(seq 200); do
  if curl -sk -o /dev/null "$endpoint/healthcheck" && listening "$account" &&
    listening "$container" && listening "$object"; then
    cat "$dir/env"
    exit 0
  fi
  sleep 0.05
done
echo "swift-s3: the proxy did not come up; its log:" >&2
cat "$dir/log/proxy.log" >&2
stop
exit 1
