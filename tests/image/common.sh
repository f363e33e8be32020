# Sourced by the image tests (label `image`): podman settings for a machine without systemd or
# Docker, the image names, phase timings and cleanup. Needs root (rootful podman); without
# root they are skipped (exit 77), except under CI, where they must run.
#   SRC   the project checkout        WORK   this test's scratch directory (wiped first)
# Podman keeps this suite's images in a store of its own (PGSHIP_IMAGE_STORE/storage), so
# tagging debian:bookworm or postgres:15 here never replaces a real image of the machine's.
set -euo pipefail

SRC="${SRC:?set SRC to the project checkout}"
WORK="${WORK:?set WORK to a scratch directory}"
IMAGE_STORE="${PGSHIP_IMAGE_STORE:-/var/tmp/pgship-image}"   # containers.conf, stamps
IMAGE=localhost/pgship:test
BASE_FULL=docker.io/library/debian:bookworm
BASE_SLIM=docker.io/library/debian:bookworm-slim
PG_BIN=/usr/lib/postgresql/15/bin
LOG="$WORK/logs"
# The throwaway PostgreSQL's directory: outside the checkout, whose parents user postgres may
# not be able to enter.
PGDIR="$IMAGE_STORE/pg"
export DEBIAN_FRONTEND=noninteractive
export CONTAINERS_CONF="$IMAGE_STORE/containers.conf"
export CONTAINERS_STORAGE_CONF="$IMAGE_STORE/storage.conf"
TEST_LABEL=org.pgship.image-test

if [ "$(id -u)" != 0 ]; then
  echo "image tests: need root (rootful podman)" >&2
  case "${CI:-}" in ""|false) exit 77 ;; *) exit 1 ;; esac
fi
for tool in podman runc mmdebstrap docker-compose curl /usr/bin/python3 "$PG_BIN/initdb"; do
  command -v "$tool" > /dev/null || { echo "image tests: $tool is missing (deploy/install-deps.sh)" >&2; exit 1; }
done
mkdir -p "$IMAGE_STORE"
cat > "$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "overlay"
graphroot = "$IMAGE_STORE/storage"
runroot = "$IMAGE_STORE/run"
EOF

# This sandbox cannot raise rlimits, so podman's defaults (1048576) fail in runc with "setrlimit
# RLIMIT_NOFILE: Operation not permitted": ask for what the host allows. crun refuses hybrid
# cgroups, runc does not. Without systemd: cgroupfs, events to a file, healthchecks by hand.
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
nproc=$(ulimit -Hu); { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
cat > "$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "netavark"
EOF

# What a run that was killed (a ctest timeout skips the EXIT trap) left behind: its containers
# (all carry TEST_LABEL), its PostgreSQL, its scratch directory.
stale=$(podman ps -aq --filter "label=$TEST_LABEL" 2>/dev/null || true)
[ -z "$stale" ] || podman rm -f -v $stale > /dev/null 2>&1 || true
if [ -f "$PGDIR/data/postmaster.pid" ]; then
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop > /dev/null 2>&1 || true
fi
rm -rf "$WORK" "$PGDIR"
mkdir -p "$LOG"
chmod 755 "$WORK"

T_START=$(date +%s)
PHASE="" PHASE_T=0
end_phase() {
  [ -n "$PHASE" ] || return 0
  printf 'timing: %-34s %4ss\n' "$PHASE" $(( $(date +%s) - PHASE_T ))
  PHASE=""
}
phase() { end_phase; PHASE="$1"; PHASE_T=$(date +%s); echo "== $1"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "   ok: $*"; }
# podman prints "unable to get systemd connection" around every healthcheck: keep it in a log.
prun() { podman "$@" 2>> "$LOG/podman-stderr.log"; }
health() { podman inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
image_mib() { echo $(( $(podman image inspect -f '{{.Size}}' "$1") / 1000000 )); }
# A run's own result in the agent's API answer, a list of runs (the newest first) or one run
# (`running` while it runs).
run_result() {
  /usr/bin/python3 -c 'import json,sys
try:
    d = json.loads(sys.argv[1])
    print((d[0] if isinstance(d, list) else d).get("result", ""))
except Exception: print("")' "$1"
}
# A run of the agent at <base URL> once it has ended: "<its result> <json>" (the run's own
# result, not one of its databases'). With a run_id that run, without one the newest.
wait_for_run() {
  local run="" result url="$1/api/v1/runs?limit=1"
  [ -z "${2:-}" ] || url="$1/api/v1/runs/$2"
  for _ in $(seq 240); do
    run=$(curl -sf "$url" || true)
    result=$(run_result "$run")
    case "$result" in ok|failed) echo "$result $run"; return ;; esac
    sleep 0.5
  done
  echo "none $run"
}
# The run_id of a POST /api/v1/backups or /api/v1/drills answer.
run_id_of() {
  /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["run_id"])' "$1"
}
# The newest run in the agent's API answer: "<backup name> <sha256>".
latest_backup() {
  /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1])[0]["databases"][0]; print(d["backup"], d["sha256"])' "$1"
}

# Cleanup runs the commands queued with on_exit, newest first, whatever the outcome.
EXIT_HOOKS=()
on_exit() { EXIT_HOOKS=("$1" "${EXIT_HOOKS[@]}"); }
run_exit_hooks() {
  local rc=$?
  set +e
  end_phase
  for hook in "${EXIT_HOOKS[@]}"; do eval "$hook" >> "$LOG/cleanup.log" 2>&1; done
  echo "timing: $(basename "$0" .sh) total $(( $(date +%s) - T_START ))s; $([ $rc = 0 ] && echo PASSED || echo "FAILED (rc $rc), logs in $LOG")"
  [ $rc = 0 ] && rm -rf "$WORK"
  exit $rc
}
trap run_exit_hooks EXIT
trap 'exit 130' INT TERM
