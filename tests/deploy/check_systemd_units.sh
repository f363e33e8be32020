#!/usr/bin/env bash
# `systemd-analyze verify` on deploy/systemd/*.service, with ExecStart pointed at the binaries
# just built (verify requires the commands to exist; the units name their installed paths).
#   tests/deploy/check_systemd_units.sh SOURCE_DIR AGENT_BIN RECEIVER_BIN
set -euo pipefail
source_dir="$1"; agent="$2"; receiver="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for unit in "$source_dir"/deploy/systemd/*.service; do
  sed -e "s|/usr/local/bin/pgship-agent|$agent|" -e "s|/usr/local/bin/pgship-receiver|$receiver|" \
    "$unit" > "$work/$(basename "$unit")"
done
# Any output is a finding (unknown directive, bad value, missing command): fail on it.
out="$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$work"/*.service 2>&1)" || {
  echo "$out"; exit 1; }
if [ -n "$out" ]; then echo "$out"; exit 1; fi
echo "systemd-analyze verify: $(ls "$work" | tr '\n' ' ')ok"
