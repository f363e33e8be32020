#!/usr/bin/env bash
# A throwaway Ceph radosgw on 127.0.0.1, for the S3 tests that need what Swift's s3api lacks
# (object lock, aws-chunked, If-None-Match): one monitor, one OSD, no manager, `auth none`
# (the S3 keys are radosgw's own), one S3 user with random keys and one bucket made with object
# lock enabled. Debian 12's Ceph 16 packages (see deploy/install-deps.sh).
#
#   ceph-rgw.sh start DIR    starts in DIR (created); prints S3_ENDPOINT, S3_ACCESS_KEY,
#                            S3_SECRET_KEY, S3_BUCKET lines once a signed request succeeds
#   ceph-rgw.sh stop DIR     ends the daemons DIR/pids names and removes DIR
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?directory}

stop() {
  [ -f "$dir/pids" ] || return 0
  # Last started first, each waited for: an OSD whose monitor is already gone waits 5 s for it.
  # A zombie counts as gone: the daemons are orphans, reaped whenever init gets round to it.
  for p in $(tac "$dir/pids"); do
    kill -TERM "$p" 2>/dev/null || continue
    for _ in $(seq 100); do
      case $(ps -o stat= -p "$p") in '' | Z*) break ;; esac
      sleep 0.05
    done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf -- "$dir"
}
[ "$cmd" = stop ] && { stop; exit 0; }
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

deadline=$((SECONDS + 60))
left() { echo $((deadline > SECONDS ? deadline - SECONDS : 1)); }
fail() {
  echo "ceph-rgw: $*; the logs:" >&2
  for f in "$dir"/log/*; do [ -s "$f" ] && { echo "== $f" >&2; tail -n 12 "$f" >&2; }; done
  stop
  exit 1
}

mkdir -p "$dir/mon.a" "$dir/osd.0" "$dir/rgw" "$dir/run" "$dir/log"
: > "$dir/pids"
# The S3 port and the monitor's; the OSD takes its own from 6800-7300, as Ceph always does.
read -r s3 mon access secret < <(/usr/bin/python3 -c '
import secrets, socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks], "AKIA" + secrets.token_hex(8).upper(), secrets.token_hex(20))')
fsid=$(cat /proc/sys/kernel/random/uuid)
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
bucket=pgship-test

cat > "$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
# Without cephx the default "secure" wire mode stalls every client ~30 s before falling back.
ms cluster mode = crc
ms service mode = crc
ms client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms mon client mode = crc
# Every pool radosgw makes is a paxos round; the default 1 s interval makes start take ~16 s.
paxos propose interval = 0.05
paxos min wait = 0.01
# A client whose first requests found no OSD up retries them at its next tick (5 s by default).
objecter tick interval = 0.5
# One OSD: one replica, few placement groups.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
# The monitor would shut itself down on a host disk less than 5 % free.
mon data avail crit = 0
# BlueStore on a sparse file rather than memstore: memstore never gives back what a DELETE
# frees, so tests that rotate backups away would only see the OSD grow. A small fixed cache
# keeps the OSD near 100 MiB instead of growing to the default 4 GiB target.
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 10737418240
bluestore fsck on mkfs = false
bluestore cache autotune = false
bluestore cache size = 67108864
# Each close of the block file waits out one aio poll (250 ms), and BlueStore opens it a dozen
# times while it starts, once per op shard among them: start goes from 4.4 s to 1.9 s.
bdev aio poll ms = 20
osd op num shards = 1
osd op num threads per shard = 2
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon data = $dir/mon.\$id
osd data = $dir/osd.\$id
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$s3
rgw data = $dir/rgw
# A deleted object's tail is reclaimed at the next GC pass, not two hours later.
rgw gc obj min wait = 0
rgw gc processor period = 10
EOF

# As root the daemons run as Debian's ceph user, unless it cannot reach DIR (a private parent).
setuser=()
if [ "$(id -u)" = 0 ] && id ceph > /dev/null 2>&1; then
  chown -R ceph:ceph "$dir"
  if runuser -u ceph -- test -w "$dir/osd.0"; then setuser=(--setuser ceph --setgroup ceph)
  else chown -R root:root "$dir"; fi
fi
conf=(-c "$dir/ceph.conf")
monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon]" "$dir/monmap" > /dev/null
chmod 644 "$dir/monmap"
ceph-mon "${conf[@]}" "${setuser[@]}" --mkfs -i a --monmap "$dir/monmap" \
  > "$dir/log/mon-mkfs.out" 2>&1 || fail "the monitor's mkfs failed"
daemon() {  # name command...
  local name=$1; shift
  "$@" "${conf[@]}" "${setuser[@]}" -f > "$dir/log/$name.out" 2>&1 < /dev/null &
  echo $! >> "$dir/pids"
}
daemon mon ceph-mon -i a
# `osd new` also waits for the monitor to form its quorum of one.
osd_id=$(timeout "$(left)" ceph "${conf[@]}" osd new "$osd_uuid" 2> "$dir/log/osd-new.out") \
  || fail "the monitor did not answer"
timeout "$(left)" ceph-osd "${conf[@]}" "${setuser[@]}" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" \
  > "$dir/log/osd-mkfs.out" 2>&1 || fail "the OSD's mkfs failed"
daemon osd ceph-osd -i "$osd_id"
daemon rgw radosgw -n client.rgw.a
# radosgw-admin talks to RADOS directly, so it blocks until the OSD's placement groups are up.
timeout "$(left)" radosgw-admin "${conf[@]}" user create --uid=pgship --display-name=pgship \
  --access-key="$access" --secret-key="$secret" > "$dir/log/user.out" 2>&1 \
  || fail "the S3 user could not be made"

endpoint="http://127.0.0.1:$s3"
s3() {  # curl arguments...: a SigV4-signed request without a body; prints the HTTP status
  # radosgw insists on x-amz-content-sha256; curl 7.88 signs the value given but sends none.
  curl -s -o "$dir/log/s3.out" -w '%{http_code}' --max-time 5 \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" \
    -H "x-amz-content-sha256: $(sha256sum < /dev/null | cut -d' ' -f1)" "$@" || true
}
# Ready once radosgw, which makes its pools before it listens, creates the bucket. Object lock
# can only be chosen at CreateBucket (it also turns versioning on).
until [ "$(s3 -X PUT -H 'x-amz-bucket-object-lock-enabled: true' "$endpoint/$bucket")" = 200 ]; do
  [ $SECONDS -lt $deadline ] || fail "radosgw did not create the bucket in 60 s"
  for p in $(< "$dir/pids"); do kill -0 "$p" 2> /dev/null || fail "a daemon exited"; done
  sleep 0.1
done
# curl 7.88 signs a bare "?object-lock" without the "=" SigV4 wants; "?object-lock=" is the same.
if [ "$(s3 "$endpoint/$bucket?object-lock=")" != 200 ] || ! grep -q '>Enabled<' "$dir/log/s3.out"; then
  fail "the bucket has no object lock"
fi
printf 'S3_ENDPOINT=%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\nS3_BUCKET=%s\n' \
  "$endpoint" "$access" "$secret" "$bucket" | tee "$dir/env"
