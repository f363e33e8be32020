#!/usr/bin/env bash
# Installs pgship as systemd services: binaries, units, /etc/pgship/*.env (from conf/, kept if
# present), the pgship user and the data directories. Run after building (tests/run.sh or
# deploy/quickstart.sh), as root.
#
#   deploy/install.sh                         agent and receiver
#   deploy/install.sh --agent-env /etc/default/mt5-backup
#                                             the old bash tool's settings for the agent
#   deploy/install.sh --root DIR --no-user    into DIR instead of / (packaging, tests)
# Then: systemctl enable --now pgship-agent (on the database host) / pgship-receiver.
set -euo pipefail
cd "$(dirname "$0")/.."

root=""
create_user=1
agent_env=""
build_dir="${BUILD_DIR:-build}"
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="$2"; shift 2 ;;
    --no-user) create_user=0; shift ;;
    --agent-env) agent_env="$2"; shift 2 ;;
    *) echo "usage: $0 [--root DIR] [--no-user] [--agent-env FILE]" >&2; exit 2 ;;
  esac
done
for b in agent/pgship-agent receiver/pgship-receiver; do
  [ -x "$build_dir/$b" ] || { echo "install: build first ($build_dir/$b missing)" >&2; exit 1; }
done

if [ "$create_user" = 1 ] && ! getent passwd pgship > /dev/null; then
  useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin pgship
fi
owner=()
[ "$create_user" = 1 ] && owner=(-o root -g pgship)

install -d "$root/usr/local/bin" "$root/etc/systemd/system" "$root/etc/pgship"
install -m 0755 "$build_dir/agent/pgship-agent" "$build_dir/receiver/pgship-receiver" \
  "$root/usr/local/bin/"
# The restore_command that recovers from the physical archive without pgship (README).
install -m 0755 deploy/pgship-restore-wal.sh "$root/usr/local/bin/pgship-restore-wal"
install -m 0644 deploy/systemd/pgship-agent.service deploy/systemd/pgship-receiver.service \
  "$root/etc/systemd/system/"
for program in agent receiver; do
  # Settings hold secrets: readable by the service's group only; never overwritten.
  if [ ! -e "$root/etc/pgship/$program.env" ]; then
    install -m 0640 "${owner[@]}" "conf/$program.env" "$root/etc/pgship/$program.env"
  fi
done

# Where the agent's settings live decides which directory it may write (ProtectSystem=strict).
env_file="${agent_env:-/etc/pgship/agent.env}"
backup_dir="$(sed -n 's/^[[:space:]]*\(export[[:space:]]\+\)\?BACKUP_DIR=["'"'"']\?\([^"'"'"'#]*\).*/\2/p' \
  "$root$env_file" 2>/dev/null | tail -1 | sed 's/[[:space:]]*$//')"
backup_dir="${backup_dir:-/var/backups/pgship}"
install -d "$root/etc/systemd/system/pgship-agent.service.d"
cat > "$root/etc/systemd/system/pgship-agent.service.d/paths.conf" <<CONF
# Written by deploy/install.sh from $env_file.
[Service]
EnvironmentFile=
EnvironmentFile=$env_file
ReadWritePaths=$backup_dir
CONF

install -d -m 0750 "${owner[@]}" "$root$backup_dir" "$root/var/lib/pgship"
if [ "$create_user" = 1 ]; then chown pgship:pgship "$root$backup_dir" "$root/var/lib/pgship"; fi
if [ -z "$root" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo "install: pgship installed (agent settings: $env_file, backups in $backup_dir)"
echo "install: edit /etc/pgship/*.env, then: systemctl enable --now pgship-agent | pgship-receiver"
