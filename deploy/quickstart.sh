#!/usr/bin/env bash
# See pgship work in one command: installs what it needs (the same script CI uses), builds,
# starts a throwaway PostgreSQL 15 with a small sample database (unless POSTGRES_HOST and
# friends point at a real one), a receiver and an agent on loopback, triggers one backup
# through the agent's API, waits for it, and prints where it is, its sha256 and the commands
# to look around and restore it. Stays up until Ctrl-C, then removes everything it started.
#
#   deploy/quickstart.sh            (as root, or a user with sudo for the packages)
#   deploy/quickstart.sh --exit     (stop after printing, for scripts and CI)
#
# SKIP_BUILD=1 uses the programs already in BUILD_DIR (the test suite sets it: a build started
# by one test while others run the same binaries would replace them under their feet).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${BUILD_DIR:-build}"
stay=1
[ "${1:-}" = "--exit" ] && stay=0

deploy/install-deps.sh
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  [ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" -G Ninja > /dev/null
  cmake --build "$build_dir" -j2 --target pgship-agent pgship-receiver | tail -1
fi
build_dir="$(cd "$build_dir" && pwd)"
agent="$build_dir/agent/pgship-agent"
receiver="$build_dir/receiver/pgship-receiver"
for program in "$agent" "$receiver"; do
  [ -x "$program" ] || { echo "quickstart: $program is not built" >&2; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/pgship-quickstart-XXXXXX")"
chmod 755 "$work"
pids=()
pg_bin=/usr/lib/postgresql/15/bin
as_owner=()
[ "$(id -u)" = 0 ] && as_owner=(runuser -u postgres --)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -f "$work/pg/data/postmaster.pid" ]; then
    "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$work/pg/data" stop -m fast > /dev/null 2>&1 || true
  fi
  rm -rf "$work"
  echo "quickstart: stopped everything and removed $work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_port() {  # file with "listening on ADDR:PORT" -> PORT
  for _ in $(seq 100); do
    grep -q listening "$1" 2>/dev/null && { sed -n 's/.*:\([0-9]*\)$/\1/p' "$1"; return; }
    sleep 0.1
  done
  echo "quickstart: a process did not start; its log:" >&2; cat "${1%.port}.log" >&2; exit 1
}

# PostgreSQL: a real one if POSTGRES_HOST is set, else a throwaway cluster with sample data.
if [ -z "${POSTGRES_HOST:-}" ]; then
  mkdir -p "$work/pg"
  [ ${#as_owner[@]} -eq 0 ] || chown postgres: "$work/pg"
  "${as_owner[@]}" "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth=trust --no-sync \
    > "$work/pg/initdb.log"
  POSTGRES_PORT=$((20000 + RANDOM % 40000))
  "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w \
    -o "-p $POSTGRES_PORT -k $work/pg -c listen_addresses=''" start > /dev/null
  POSTGRES_HOST="$work/pg" POSTGRES_USER=postgres POSTGRES_DB=shop
  "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U postgres \
    -d postgres -f deploy/docker/sample-db.sql
  echo "quickstart: PostgreSQL 15 with database 'shop' (55,000 rows) on socket $POSTGRES_HOST"
fi

: "${POSTGRES_DB:?with POSTGRES_HOST set, set POSTGRES_DB (and POSTGRES_USER) too}"
: "${POSTGRES_USER:?with POSTGRES_HOST set, set POSTGRES_USER too}"

token="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
printf '%s\n' "$token" > "$work/token"
chmod 600 "$work/token"

BACKUP_API_TOKEN_FILE="$work/token" STORAGE_DIR="$work/storage" PORT=0 LISTEN_ADDR=127.0.0.1 \
  MIN_FREE_BYTES=100M "$receiver" serve > "$work/receiver.port" 2> "$work/receiver.log" &
pids+=($!)
rx_port=$(wait_for_port "$work/receiver.port")

cat > "$work/agent.env" <<ENV
POSTGRES_HOST=$POSTGRES_HOST
POSTGRES_PORT=${POSTGRES_PORT:-5432}
POSTGRES_DB=$POSTGRES_DB
POSTGRES_USER=$POSTGRES_USER
BACKUP_DIR=$work/backups
KEEP_LOCAL_BACKUPS=3
BACKUP_API_URL=http://127.0.0.1:$rx_port
BACKUP_API_TOKEN_FILE=$work/token
SCHEDULE=*/5 * * * *
HEALTHCHECK_PORT=0
LISTEN_ADDR=127.0.0.1
ENV
"$agent" run --config "$work/agent.env" > "$work/agent.port" 2> "$work/agent.log" &
pids+=($!)
ag_port=$(wait_for_port "$work/agent.port")
A="http://127.0.0.1:$ag_port"
R="http://127.0.0.1:$rx_port"

run_id=$(curl -sf -X POST "$A/api/v1/backups" | sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p')
echo "quickstart: backup run $run_id started through POST $A/api/v1/backups"
result=running
for _ in $(seq 600); do
  result=$(curl -sf "$A/api/v1/runs/$run_id" | sed -n 's/.*"result":"\([a-z]*\)".*/\1/p' | tail -1)
  [ "$result" != running ] && break
  sleep 0.5
done
if [ "$result" != ok ]; then
  echo "quickstart: the backup run ended '$result'; the agent's log:" >&2
  tail -20 "$work/agent.log" >&2
  exit 1
fi
first_db="${POSTGRES_DB%%,*}"
restored_db="${first_db}_restored"
psql_bin=$(command -v psql || echo "$pg_bin/psql")
# Host, port and user only: the password (if any) stays in PGPASSWORD or ~/.pgpass, never argv.
psql_line="$psql_bin -h $(printf %q "$POSTGRES_HOST") -p ${POSTGRES_PORT:-5432} -U $(printf %q "$POSTGRES_USER") -d $restored_db"
stored=$(find "$work/storage" -name '*.dump' | head -1)
name=$(basename "$stored")
sha=$(cut -c1-64 "$stored.sha256")

cat <<TEXT

pgship is running (agent $A, receiver $R); backups every 5 minutes.

The backup:       $stored
sha256:           $sha   (sha256sum -c $name.sha256 in that folder checks it)
Local copy:       $work/backups/$name

Look around:
  curl $A/health
  curl $A/metrics | grep ^pgship_
  curl $A/api/v1/runs
  curl -X POST $A/api/v1/backups                          # one more backup now
  curl -H "Authorization: Bearer \$(cat $work/token)" $R/api/backup/list
  curl -H "Authorization: Bearer \$(cat $work/token)" -O $R/api/backup/download/$name

PostgreSQL:       $POSTGRES_HOST, port ${POSTGRES_PORT:-5432}, user $POSTGRES_USER

Restore it into a new database, then look at it:
  $agent restore --config $work/agent.env --latest --database $first_db --target-db $restored_db --create
  $psql_line -c '\dt+'

Press Ctrl-C to stop everything and remove $work.
TEXT

if [ "$stay" = 0 ]; then
  # Scripted use: prove the printed commands work before tearing down. (Output is captured
  # first: `curl | grep -q` fails under pipefail when grep stops reading early.)
  check() { echo "quickstart: check failed: $*" >&2; exit 1; }
  curl -sf "$A/health" > /dev/null || check "GET /health"
  metrics=$(curl -sf "$A/metrics") || check "GET /metrics"
  grep -q "^pgship_backup_last_status{database=\"$POSTGRES_DB\"} 1" <<< "$metrics" ||
    check "pgship_backup_last_status is not 1"
  list=$(curl -sf -H "Authorization: Bearer $token" "$R/api/backup/list") || check "list"
  grep -q "\"$name\"" <<< "$list" || check "the list does not name $name"
  downloaded=$(curl -sf -H "Authorization: Bearer $token" "$R/api/backup/download/$name" |
    sha256sum) || check "download"
  [ "${downloaded%% *}" = "$sha" ] || check "the download's sha256 differs"
  "$agent" restore --config "$work/agent.env" --latest --database "$first_db" \
    --target-db "$restored_db" --create > "$work/restore.log" 2>&1 ||
    { cat "$work/restore.log" >&2; check "the printed restore"; }
  tables=$(eval "$psql_line -X -At -c 'select count(*) from pg_tables where schemaname = current_schema()'") ||
    check "the printed psql line"
  [ "${tables:-0}" -gt 0 ] || check "$restored_db has no tables"
  echo "quickstart: the commands above answered as expected"
else
  while kill -0 "${pids[-1]}" 2>/dev/null; do sleep 1; done
  echo "quickstart: the agent stopped; its log is above" >&2
  tail -20 "$work/agent.log" >&2
fi
