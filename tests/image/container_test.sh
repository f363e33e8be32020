#!/usr/bin/env bash
# The built image (build_images.sh) run as users run it (label `image`): a receiver container
# and an agent container against a throwaway PostgreSQL 15 on 127.0.0.1, secrets as podman
# secrets read through *_FILE. Checks what a user sees:
#   - both HEALTHCHECKs pass, and the agent's start-up backup is on the receiver with the
#     sha256 of the agent's own file, the list's sha256 and the downloaded bytes all equal;
#   - a restore drill (the image's pg_restore) brings the backup back with every row count;
#   - the version in --version, pgship_build_info and the image's OCI label is one version;
#   - with its database down, the agent's HEALTHCHECK turns the container unhealthy;
#   - SIGTERM stops both with exit 0 within 10 s;
#   - the image runs as a non-root user, has no compiler and holds no secret file, even though
#     the build context had deploy/secrets/ in it.
set -euo pipefail
. "$(dirname "$0")/common.sh"
podman image exists "$IMAGE" || fail "$IMAGE is missing: run build_images.sh first"

phase "throwaway PostgreSQL 15"
mkdir -p "$PGDIR" "$WORK/secrets"
chown postgres: "$PGDIR"
head -c 24 /dev/urandom | base64 | tr -d '\n' > "$WORK/secrets/pg_password"
head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n' > "$WORK/secrets/backup_token"
install -o postgres -m 600 "$WORK/secrets/pg_password" "$PGDIR/pwfile"
PGPORT=$(free_port) RXPORT=$(free_port) AGPORT=$(free_port)
runuser -u postgres -- "$PG_BIN/initdb" -D "$PGDIR/data" -U postgres --auth=scram-sha-256 \
  --pwfile="$PGDIR/pwfile" --no-sync > "$LOG/initdb.log" 2>&1 || fail "initdb (see $LOG/initdb.log)"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
  -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1" start > /dev/null ||
  { cp "$PGDIR/server.log" "$LOG/" 2> /dev/null; fail "pg_ctl start (see $LOG/server.log)"; }
on_exit "runuser -u postgres -- $PG_BIN/pg_ctl -D $PGDIR/data -m immediate -w stop"
PGPASSWORD="$(cat "$WORK/secrets/pg_password")" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
  -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -f "$SRC/deploy/docker/sample-db.sql" \
  > "$LOG/sample-db.log" 2>&1 || fail "sample database (see $LOG/sample-db.log)"
ok "PostgreSQL on 127.0.0.1:$PGPORT with the sample database shop"

phase "receiver and agent containers"
sfx=$$
for s in backup_token pg_password; do
  podman secret create "pgship_${s}_$sfx" "$WORK/secrets/$s" > /dev/null
  on_exit "podman secret rm pgship_${s}_$sfx"
done
token_secret=(--secret "pgship_backup_token_$sfx,target=backup_token")
on_exit "podman rm -f -v -t 5 pgship-rx-$sfx"
RX=$(prun run -d --name "pgship-rx-$sfx" --label "$TEST_LABEL=1" --network=host "${token_secret[@]}" \
  -e PGSHIP_ROLE=receiver -e LISTEN_ADDR=127.0.0.1 -e PORT="$RXPORT" -e MIN_FREE_BYTES=100M \
  -e BACKUP_API_TOKEN_FILE=/run/secrets/backup_token "$IMAGE") || fail "podman run receiver"
on_exit "podman rm -f -v -t 5 pgship-agent-$sfx"
AG=$(prun run -d --name "pgship-agent-$sfx" --label "$TEST_LABEL=1" --network=host "${token_secret[@]}" \
  --secret "pgship_pg_password_$sfx,target=pg_password" \
  -e POSTGRES_HOST=127.0.0.1 -e POSTGRES_PORT="$PGPORT" -e POSTGRES_DB=shop -e POSTGRES_USER=postgres \
  -e POSTGRES_PASSWORD_FILE=/run/secrets/pg_password -e BACKUP_API_URL="http://127.0.0.1:$RXPORT" \
  -e BACKUP_API_TOKEN_FILE=/run/secrets/backup_token -e SCHEDULE='0 3 * * *' -e RUN_ON_STARTUP=true \
  -e LOG_FORMAT=json -e LISTEN_ADDR=127.0.0.1 -e HEALTHCHECK_PORT="$AGPORT" -e MAX_RETRIES=0 \
  "$IMAGE") || fail "podman run agent"
A="http://127.0.0.1:$AGPORT" R="http://127.0.0.1:$RXPORT"

read -r result run < <(wait_for_run "$A")
[ "$result" = ok ] && grep -q '"uploaded":true' <<< "$run" ||
  { podman logs "$AG" 2>&1 | tail -20 >&2; fail "the agent's start-up backup did not upload: $result $run"; }
read -r name sha < <(latest_backup "$run")
ok "the agent's start-up backup $name is uploaded (sha256 ${sha:0:16}...)"
grep -q '"kind":"globals"' <<< "$run" ||
  fail "the start-up run has no globals entry (GLOBALS=on needs the image's pg_dumpall): $run"
ok "the start-up run also shipped the cluster's roles (the image's pg_dumpall)"

phase "the backup on the receiver"
token=$(cat "$WORK/secrets/backup_token")
auth=(-H "Authorization: Bearer $token")
local_file=$(podman exec "$AG" find /var/backups/pgship -name "$name" -type f | head -1)
[ -n "$local_file" ] || fail "the agent container has no file $name"
agent_sha=$(podman exec "$AG" sha256sum "$local_file" | cut -d' ' -f1)
list=$(curl -sf "${auth[@]}" "$R/api/backup/list?database=shop") || fail "receiver list"
listed_sha=$(/usr/bin/python3 -c 'import json,sys; print(next(r["sha256"] for r in json.loads(sys.argv[1]) if r["filename"] == sys.argv[2]))' "$list" "$name") ||
  fail "the receiver does not list $name: $list"
downloaded_sha=$(curl -sf "${auth[@]}" "$R/api/backup/download/$name" | sha256sum | cut -d' ' -f1)
[ "$agent_sha" = "$sha" ] && [ "$listed_sha" = "$sha" ] && [ "$downloaded_sha" = "$sha" ] ||
  fail "sha256: agent's file $agent_sha, agent's run $sha, receiver's list $listed_sha, download $downloaded_sha"
ok "the agent's file, its run, the receiver's list and the downloaded bytes: sha256 $sha"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong-$token" "$R/api/backup/list")
[ "$code" = 401 ] || fail "a wrong token got $code, not 401"
ok "a wrong token gets 401"

phase "restore drill in the agent container"
# The image's pg_restore, run by the daemon as users trigger it: the receiver's copy comes back
# into a scratch database, every table's row count is compared, the scratch database dropped.
started=$(curl -sf -X POST "$A/api/v1/drills") || fail "POST /api/v1/drills"
read -r result run < <(wait_for_run "$A" "$(run_id_of "$started")")
[ "$result" = ok ] && grep -q '"kind":"drill"' <<< "$run" ||
  { podman logs "$AG" 2>&1 | tail -20 >&2; fail "the restore drill did not pass: $result $run"; }
scratch=$(PGPASSWORD="$(cat "$WORK/secrets/pg_password")" "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$PGPORT" \
  -U postgres -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'shop_pgship_drill'")
[ "$scratch" = 0 ] || fail "the drill's scratch database was not dropped"
ok "a restore drill with the image's pg_restore passed, and its scratch database is gone"

phase "HEALTHCHECKs and the version"
prun healthcheck run "$RX" > /dev/null || fail "the receiver's HEALTHCHECK failed"
prun healthcheck run "$AG" > /dev/null || fail "the agent's HEALTHCHECK failed"
[ "$(health "$RX")" = healthy ] && [ "$(health "$AG")" = healthy ] ||
  fail "health: receiver $(health "$RX"), agent $(health "$AG")"
ok "HEALTHCHECK: receiver healthy, agent healthy"
label() { podman image inspect -f "{{index .Config.Labels \"org.opencontainers.image.$1\"}}" "$IMAGE"; }
meta=$("$SRC/deploy/release/image-meta.sh")
version=$(sed -n 's/^version=//p' <<< "$meta")
agent_version=$(prun run --rm "$IMAGE" --version)
receiver_version=$(prun run --rm -e PGSHIP_ROLE=receiver "$IMAGE" --version)
metric=$(curl -sf "$A/metrics" | sed -n 's/^pgship_build_info{version="\([^"]*\)"} 1$/\1/p')
[ "$agent_version" = "pgship-agent $version" ] && [ "$receiver_version" = "pgship-receiver $version" ] &&
  [ "$metric" = "$version" ] && [ "$(label version)" = "$version" ] ||
  fail "versions: git $version, '$agent_version', '$receiver_version', build_info '$metric', label '$(label version)'"
for l in source revision licenses; do [ -n "$(label $l)" ] || fail "no label org.opencontainers.image.$l"; done
[ "$(label revision)" = "$(sed -n 's/^revision=//p' <<< "$meta")" ] || fail "revision label $(label revision)"
ok "version $version in --version, pgship_build_info and the label; source $(label source), licenses $(label licenses)"

phase "agent with its database down"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop > /dev/null
started=$(curl -sf -X POST "$A/api/v1/backups") || fail "POST /api/v1/backups"
read -r result run < <(wait_for_run "$A" "$(run_id_of "$started")")
[ "$result" = failed ] || fail "a run with the database down did not fail: $result $run"
# podman never schedules HEALTHCHECKs without systemd; this loop is the timer. The image's own
# settings apply: failures count after the 30 s start period, three in a row make it unhealthy.
for _ in $(seq 45); do
  prun healthcheck run "$AG" > /dev/null || true
  [ "$(health "$AG")" = unhealthy ] && break
  sleep 2
done
[ "$(health "$AG")" = unhealthy ] || fail "the agent stayed $(health "$AG") with its database down"
curl -s "$A/health" > "$LOG/agent-health.json" || true
ok "the agent turned unhealthy: $(head -c 160 "$LOG/agent-health.json")"

phase "SIGTERM"
for c in "$AG" "$RX"; do
  t0=$(date +%s%N)
  podman kill --signal TERM "$c" > /dev/null
  podman wait "$c" > /dev/null
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  code=$(podman inspect -f '{{.State.ExitCode}}' "$c")
  [ "$code" = 0 ] && [ "$ms" -lt 10000 ] || fail "$(podman inspect -f '{{.Name}}' "$c"): exit $code after $ms ms"
  ok "$(podman inspect -f '{{.Name}}' "$c") exited 0, $ms ms after SIGTERM"
done

phase "non-root, no compiler, no secrets"
[ "$(podman image inspect -f '{{.Config.User}}' "$IMAGE")" = pgship ] || fail "the image's USER is not pgship"
uid=$(prun run --rm --entrypoint id "$IMAGE" -u)
[ "$uid" = 10001 ] || fail "the image runs as uid $uid"
ok "runs as pgship (uid $uid)"
on_exit "podman rm -f -v pgship-fs-$sfx"
prun create --name "pgship-fs-$sfx" --label "$TEST_LABEL=1" "$IMAGE" > /dev/null
podman export "pgship-fs-$sfx" > "$WORK/rootfs.tar"
tar -tf "$WORK/rootfs.tar" > "$LOG/rootfs.txt"
compilers_in() { grep -E '^(\./)?(usr/)?bin/(cc|c\+\+|gcc|g\+\+|clang[^/]*|ld|as|make)$|^(\./)?usr/lib/gcc/|/cc1(plus)?$' "$1" || true; }
compilers=$(compilers_in "$LOG/rootfs.txt")
[ -z "$compilers" ] || fail "the image has a compiler: $(echo $compilers | head -c 300)"
# The same pattern must find the build stage's compiler, or it is a check that cannot fail.
prun create --name "pgship-buildfs-$sfx" --label "$TEST_LABEL=1" localhost/pgship-build:test > /dev/null
on_exit "podman rm -f -v pgship-buildfs-$sfx"
podman export "pgship-buildfs-$sfx" | tar -t > "$LOG/build-rootfs.txt"
[ -n "$(compilers_in "$LOG/build-rootfs.txt")" ] || fail "the compiler pattern finds nothing in the build stage either"
# The build context held deploy/secrets/ with canaries (build_images.sh): no such file in the
# image, and not a byte of them in any layer (podman save keeps every layer, uncompressed).
secret_names=$(grep -E '(^|/)(secrets/|pg_password$|backup_token$|\.env$|id_(rsa|ed25519)$)|\.key$|^(\./)?src/' "$LOG/rootfs.txt" || true)
[ -z "$secret_names" ] || fail "the image holds secret-looking files: $secret_names"
canary=$(cat "$IMAGE_STORE/canary")
podman save --format docker-archive -o "$WORK/image.tar" "$IMAGE" 2>> "$LOG/podman-stderr.log"
! grep -qaF "$canary" "$WORK/image.tar" || fail "a layer of the image holds the build context's secret canary"
# ...and the same search finds a line of a file the image does hold: the layers are readable.
grep -qaF "PGSHIP_ROLE must be agent or receiver" "$WORK/image.tar" ||
  fail "the layer search cannot find the entrypoint's text either: the archive is not searchable"
rm -f "$WORK/rootfs.tar" "$WORK/image.tar"
ok "no compiler (the same pattern finds the build stage's), no secret file, no byte of the context's deploy/secrets/ in any layer"
