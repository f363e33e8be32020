#!/usr/bin/env bash
# deploy/docker-compose.yml brought up as the README says, with docker-compose v1 (Debian 12's)
# against `podman system service` (label `image`): postgres, receiver, agent and Prometheus,
# from the images build_images.sh made (Grafana has no Debian package and is not started).
# Checks that:
#   - the file passes `docker-compose config`, and the project is named pgship by deploy/.env;
#   - every service turns healthy through its own healthcheck;
#   - the agent's start-up backup is on the receiver with the same sha256;
#   - Prometheus scrapes both (up) and has the alert rules loaded;
#   - every published port listens on 127.0.0.1 only;
#   - a scrub finding (the agent's backup corrupted in the receiver's volume and quarantined by
#     POST /api/backup/scrub) turns the receiver's /health 503 but not /readyz, and its container
#     stays healthy; the stack brought down and up again with the finding standing turns
#     healthy again (the agent waits for the receiver's service_healthy, which asks readiness),
#     and the agent's next start-up backup ships;
#   - `down -v` leaves no container, volume or network of the project behind.
# The deploy/ directory is copied to the scratch directory, where the secrets are created, so
# a developer's own deploy/secrets/ is never touched.
set -euo pipefail
. "$(dirname "$0")/common.sh"
project=pgship
services=(postgres receiver agent prometheus)
for s in "${services[@]}"; do
  image=$(/usr/bin/python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["services"][sys.argv[2]]["image"])' \
    "$SRC/deploy/docker-compose.yml" "$s")
  podman image exists "$image" || fail "$image ($s) is missing: run build_images.sh first"
done
# The project is the one the README's users run; one that is up on this machine is theirs.
[ -z "$(podman ps -aq --filter "label=com.docker.compose.project=$project")" ] ||
  fail "a compose project $project already has containers here; 'docker-compose -p $project down -v' first"
volumes_before=$(podman volume ls -q | sort)

phase "compose file and secrets"
cp -r "$SRC/deploy" "$WORK/deploy"
rm -rf "$WORK/deploy/secrets"
mkdir -p "$WORK/deploy/secrets"
head -c 24 /dev/urandom | base64 > "$WORK/deploy/secrets/pg_password"
head -c 24 /dev/urandom | base64 > "$WORK/deploy/secrets/backup_token"
# compose v1 bind-mounts file secrets as they are; the containers run as other users.
chmod 644 "$WORK/deploy/secrets/"*
cd "$WORK"
compose() { timeout 300 docker-compose -f deploy/docker-compose.yml "$@"; }
for port in 8080 9101 9090; do
  /usr/bin/python3 -c 'import socket,sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2> /dev/null ||
    fail "port $port is in use on this machine; the compose file publishes it"
done

export DOCKER_HOST="unix://$WORK/podman.sock"
podman system service --time=0 "$DOCKER_HOST" > "$LOG/podman-service.log" 2>&1 &
on_exit "kill $!"
for _ in $(seq 50); do [ -S "$WORK/podman.sock" ] && break; sleep 0.2; done
[ -S "$WORK/podman.sock" ] || fail "podman system service did not start"
compose config -q > "$LOG/compose-config.log" 2>&1 || fail "docker-compose config (see $LOG/compose-config.log)"
ok "docker-compose $(docker-compose version --short) accepts the file"

phase "compose up"
on_exit "cd $WORK && DOCKER_HOST=$DOCKER_HOST docker-compose -f deploy/docker-compose.yml down -v -t 10"
# Podman runs HEALTHCHECKs from systemd timers; without systemd this loop is the timer, or
# `condition: service_healthy` would wait forever.
( while :; do
    for c in $(podman ps -q --filter "label=com.docker.compose.project=$project"); do
      podman healthcheck run "$c" > /dev/null 2>&1 || true
    done
    sleep 2
  done ) &
on_exit "kill $!"
compose up -d "${services[@]}" > "$LOG/compose-up.log" 2>&1 ||
  { tail -20 "$LOG/compose-up.log" >&2; fail "docker-compose up (see $LOG/compose-up.log)"; }
declare -A cid
# Waits up to 3 minutes until every service's container is healthy; $states says how each is.
wait_all_healthy() {
  local _ s h all
  for _ in $(seq 90); do
    all=1 states=""
    for s in "${services[@]}"; do
      h=$(health "${cid[$s]}")
      states+="$s=$h "
      [ "$h" = healthy ] || all=0
    done
    [ $all = 1 ] && return 0
    sleep 2
  done
  return 1
}
for s in "${services[@]}"; do
  cid[$s]=$(compose ps -q "$s")
  [ -n "${cid[$s]}" ] || fail "no container for $s"
  [ "$(podman inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' "${cid[$s]}")" = "$project" ] ||
    fail "$s is not in project $project: deploy/.env was not read"
done
wait_all_healthy || { compose logs --tail=20 > "$LOG/compose-logs.txt" 2>&1; fail "not all healthy: $states(see $LOG/compose-logs.txt)"; }
ok "all healthy: $states"

phase "backup, scrapes, ports"
# Healthy is not done: the agent answers /health while its start-up run still runs.
read -r result run < <(wait_for_run http://127.0.0.1:8080)
[ "$result" = ok ] && grep -q '"uploaded":true' <<< "$run" ||
  fail "the agent's start-up backup did not upload ($result): $run"
read -r name sha < <(latest_backup "$run")
token=$(cat deploy/secrets/backup_token)
downloaded=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:9101/api/backup/download/$name" |
  sha256sum | cut -d' ' -f1)
[ "$downloaded" = "$sha" ] || fail "the receiver's $name hashes to $downloaded, the agent's to $sha"
ok "the agent's backup $name is on the receiver (sha256 ${sha:0:16}...)"
targets=""
for _ in $(seq 45); do
  targets=$(curl -sf "http://127.0.0.1:9090/api/v1/targets" | /usr/bin/python3 -c 'import json,sys
print(" ".join(sorted(t["labels"]["job"] + "=" + t["health"] for t in json.load(sys.stdin)["data"]["activeTargets"])))' || true)
  [ "$targets" = "pgship-agent=up pgship-receiver=up" ] && break
  sleep 2
done
[ "$targets" = "pgship-agent=up pgship-receiver=up" ] || fail "Prometheus targets: $targets"
rules=$(curl -sf "http://127.0.0.1:9090/api/v1/rules" | /usr/bin/python3 -c 'import json,sys
print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
expected=$(grep -c '^ *- alert:' deploy/prometheus/alerts.yml)
[ "$rules" = "$expected" ] || fail "Prometheus loaded $rules rules, alerts.yml has $expected"
ok "Prometheus scrapes $targets, $rules alert rules loaded"
published=$(for s in "${services[@]}"; do podman port "${cid[$s]}"; done | sed 's/.* -> //' | sort -u)
[ -n "$published" ] || fail "no port is published"
! grep -qv '^127\.0\.0\.1:' <<< "$published" || fail "a port is published beyond 127.0.0.1: $published"
ok "published on $(echo $published)"

phase "a scrub finding stands: still ready, and the stack comes up again"
# Corrupt the stored backup in the receiver's volume (as root in the container: stored files
# may be read-only), then have the receiver scrub now: it moves the backup to .quarantine/.
stored="/var/lib/pgship/default/shop/$name"
podman exec -u 0 "${cid[receiver]}" sh -c "printf pgship-corrupted | dd of='$stored' bs=1 seek=64 conv=notrunc 2>/dev/null" ||
  fail "cannot corrupt $stored in the receiver's volume"
scrub=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
  "http://127.0.0.1:9101/api/backup/scrub")
[ "$scrub" = 202 ] || fail "POST /api/backup/scrub answered $scrub"
receiver_health=""
for _ in $(seq 60); do
  receiver_health=$(curl -s "http://127.0.0.1:9101/health" || true)
  grep -q quarantine <<< "$receiver_health" && break
  sleep 1
done
grep -q quarantine <<< "$receiver_health" || fail "no scrub finding in /health: $receiver_health"
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9101/health)" = 503 ] ||
  fail "/health is not 503 with a quarantined backup: $receiver_health"
ready=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9101/readyz)
[ "$ready" = 200 ] || fail "/readyz answered $ready with a quarantined backup"
podman healthcheck run "${cid[receiver]}" > /dev/null 2>> "$LOG/podman-stderr.log" ||
  fail "the receiver's container healthcheck fails on a scrub finding"
ok "$name quarantined: /health 503 (finding), /readyz 200, the container healthcheck passes"

# Containers go, named volumes (the quarantined backup, the agent's run history) stay; rm -v
# takes the containers' anonymous volumes (the image's other VOLUME) with them.
{ compose stop -t 10 && compose rm -f -v; } > "$LOG/compose-down-keep.log" 2>&1 ||
  fail "docker-compose stop / rm (see $LOG/compose-down-keep.log)"
first_run=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])[0]["run_id"])' "$run")
compose up -d "${services[@]}" > "$LOG/compose-up-again.log" 2>&1 ||
  { tail -20 "$LOG/compose-up-again.log" >&2; fail "docker-compose up with a scrub finding standing (see $LOG/compose-up-again.log)"; }
for s in "${services[@]}"; do
  cid[$s]=$(compose ps -q "$s")
  [ -n "${cid[$s]}" ] || fail "no container for $s after the second up"
done
# The agent turns unhealthy when its start-up backup fails, e.g. an agent that still refuses to
# upload while the receiver's /health is degraded instead of asking whoami: say why.
wait_all_healthy || { compose logs --tail=20 > "$LOG/compose-logs-again.txt" 2>&1
  fail "not all healthy with a scrub finding standing: $states(see $LOG/compose-logs-again.txt); agent /health: $(curl -s http://127.0.0.1:8080/health | head -c 600)"; }
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9101/health)" = 503 ] ||
  fail "the finding no longer shows in /health after the restart"
ok "up again with the finding standing, all healthy: $states"
# The agent's run history survives in its volume: wait for the start-up run after the first.
second_run=""
for _ in $(seq 120); do
  second_run=$(curl -sf "http://127.0.0.1:8080/api/v1/runs?limit=1" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])' 2> /dev/null || true)
  [ -n "$second_run" ] && [ "$second_run" != "$first_run" ] && break
  sleep 1
done
[ -n "$second_run" ] && [ "$second_run" != "$first_run" ] || fail "the agent started no run after the second up"
read -r result run < <(wait_for_run http://127.0.0.1:8080 "$second_run")
[ "$result" = ok ] && grep -q '"uploaded":true' <<< "$run" ||
  fail "the agent's backup with a scrub finding standing did not upload ($result): $run"
run_list="[$run]"
read -r name2 sha2 < <(latest_backup "$run_list")
downloaded=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:9101/api/backup/download/$name2" |
  sha256sum | cut -d' ' -f1)
[ "$downloaded" = "$sha2" ] || fail "the receiver's $name2 hashes to $downloaded, the agent's to $sha2"
ok "the agent's next backup $name2 shipped beside the quarantined one (sha256 ${sha2:0:16}...)"

phase "compose down -v"
compose down -v -t 10 > "$LOG/compose-down.log" 2>&1 || fail "docker-compose down (see $LOG/compose-down.log)"
left="$(podman ps -aq --filter "label=com.docker.compose.project=$project")"
left+="$(podman volume ls -q --filter "label=com.docker.compose.project=$project")"
left+="$(podman network ls -q --filter "label=com.docker.compose.project=$project")"
# Anonymous volumes (the images' VOLUMEs) carry no project label: compare the whole list.
left+="$(comm -13 <(echo "$volumes_before") <(podman volume ls -q | sort))"
[ -z "$left" ] || fail "docker-compose down -v left: $left"
ok "no container, volume (named or anonymous) or network of project $project is left"
