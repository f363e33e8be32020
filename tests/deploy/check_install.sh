#!/usr/bin/env bash
# deploy/install.sh into a scratch root: files where the units expect them, the old tool's
# config taken as the agent's EnvironmentFile with its BACKUP_DIR writable, and the installed
# units still pass systemd-analyze verify.
#   tests/deploy/check_install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir="$1"; build_dir="$2"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/default"
printf 'POSTGRES_DB=mt5\nBACKUP_DIR="/var/backups/mt5"  # old tool\n' > "$root/etc/default/mt5-backup"
BUILD_DIR="$build_dir" "$source_dir/deploy/install.sh" --root "$root" --no-user \
  --agent-env /etc/default/mt5-backup
for f in usr/local/bin/pgship-agent usr/local/bin/pgship-receiver usr/local/bin/pgship-restore-wal \
         etc/systemd/system/pgship-agent.service etc/systemd/system/pgship-receiver.service \
         etc/pgship/agent.env etc/pgship/receiver.env var/backups/mt5 var/lib/pgship; do
  [ -e "$root/$f" ] || { echo "missing: $f"; exit 1; }
done
grep -qx 'EnvironmentFile=/etc/default/mt5-backup' "$root/etc/systemd/system/pgship-agent.service.d/paths.conf"
grep -qx 'ReadWritePaths=/var/backups/mt5' "$root/etc/systemd/system/pgship-agent.service.d/paths.conf"
[ "$(stat -c %a "$root/etc/pgship/agent.env")" = 640 ] || { echo "agent.env is not 0640"; exit 1; }
# A second run keeps edited settings.
echo "# edited" >> "$root/etc/pgship/agent.env"
BUILD_DIR="$build_dir" "$source_dir/deploy/install.sh" --root "$root" --no-user > /dev/null
grep -q '^# edited' "$root/etc/pgship/agent.env" || { echo "install overwrote agent.env"; exit 1; }
"$source_dir/tests/deploy/check_systemd_units.sh" "$source_dir" "$root/usr/local/bin/pgship-agent" \
  "$root/usr/local/bin/pgship-receiver"
echo "install.sh: ok"
