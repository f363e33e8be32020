#!/bin/sh
# pgship container entrypoint. The role comes from PGSHIP_ROLE (agent | receiver, default
# agent); with no arguments the agent runs its daemon (`run`) and the receiver serves.
#   docker run ... pgship                      # the agent daemon, settings from the environment
#   docker run -e PGSHIP_ROLE=receiver ... pgship
#   docker run ... pgship backup               # any pgship-agent command
#   pgship-entrypoint healthcheck              # HEALTHCHECK: the agent's /health, the receiver's
#                                              # /readyz (a scrub finding never fails it)
# Settings come only from the environment (secrets as *_FILE, e.g. Docker secrets); a
# config file can still be given with --config.
set -eu

role="${PGSHIP_ROLE:-agent}"
agent="${PGSHIP_AGENT_BIN:-/usr/local/bin/pgship-agent}"
receiver="${PGSHIP_RECEIVER_BIN:-/usr/local/bin/pgship-receiver}"

case "$role" in
  agent) program="$agent"; default_command=run ;;
  receiver) program="$receiver"; default_command=serve ;;
  *) echo "pgship-entrypoint: PGSHIP_ROLE must be agent or receiver, not '$role'" >&2; exit 2 ;;
esac

if [ $# -eq 0 ]; then
  set -- "$default_command"
fi
exec "$program" "$@"
