#!/usr/bin/env bash
# cmake/version.cmake, the one place the version comes from (ctest version, label deploy), in
# a scratch git repository: no tag, on a tag, commits after it, uncommitted changes, a
# `git archive` tarball without .git, and the build arguments a container build passes. Then
# the built programs: their --version is what version.cmake says for this checkout.
#   check_version.sh <repo> <pgship-agent> <pgship-receiver>
set -euo pipefail
repo="$1" agent="$2" receiver="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
version() { cmake -DSOURCE_DIR="$1" "${@:2}" -P "$repo/cmake/version.cmake" | sed -n 's/^version=//p'; }
revision() { cmake -DSOURCE_DIR="$1" "${@:2}" -P "$repo/cmake/version.cmake" | sed -n 's/^revision=//p'; }
expect() {   # <what> <expected> <actual>
  [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
  echo "ok: $1 -> $3"
}

g() { git -C "$work/src" -c user.name=t -c user.email=t@example.com "$@"; }
mkdir -p "$work/src"
g init -q
cp "$repo/.git-archival.txt" "$repo/.gitattributes" "$work/src/"
echo one > "$work/src/file"
g add -A && g commit -qm one
expect "no tag" "0.0.0-untagged-g$(g rev-parse --short=12 HEAD)" "$(version "$work/src")"
g tag -a v1.2.3 -m "release"
expect "on the tag v1.2.3" "1.2.3" "$(version "$work/src")"
g tag not-a-version
expect "a tag that is not vX.Y.Z is skipped" "1.2.3" "$(version "$work/src")"
echo two > "$work/src/file" && g commit -qam two
echo three > "$work/src/file" && g commit -qam three
expect "two commits later" "1.2.3-2-g$(g rev-parse --short HEAD)" "$(version "$work/src")"
echo dirty > "$work/src/file"
expect "uncommitted changes" "1.2.3-2-g$(g rev-parse --short HEAD)-dirty" "$(version "$work/src")"
g checkout -q file
expect "build arguments win" "9.9.9" "$(version "$work/src" -DPGSHIP_VERSION=9.9.9)"
warning=$(cmake -DSOURCE_DIR="$work/src" -P "$repo/cmake/version.cmake" 2>&1 > /dev/null </dev/null; true)
[ -z "$warning" ] || fail "a clean run printed on stderr: $warning"
mv "$work/src/.git" "$work/src/.git-moved" && mkdir "$work/src/.git"
warning=$(cmake -DSOURCE_DIR="$work/src" -P "$repo/cmake/version.cmake" 2>&1 > /dev/null)
rmdir "$work/src/.git" && mv "$work/src/.git-moved" "$work/src/.git"
grep -q "git rev-parse" <<< "$warning" || fail "a broken .git gave no warning: $warning"
echo "ok: a .git that git cannot read is said on stderr"

mkdir -p "$work/tarball"
g archive HEAD | tar -xf - -C "$work/tarball"
expect "git archive tarball (.git-archival.txt)" "1.2.3-2-g$(g rev-parse --short HEAD)" "$(version "$work/tarball")"
expect "its revision" "$(g rev-parse HEAD)" "$(revision "$work/tarball")"
rm "$work/tarball/.git-archival.txt"
expect "no git, no archival file" "0.0.0-unknown" "$(version "$work/tarball")"

cmake -DSOURCE_DIR="$work/src" -DOUTPUT="$work/version.cpp" -P "$repo/cmake/version.cmake"
grep -q "version = \"1.2.3-2-g$(g rev-parse --short HEAD)\";" "$work/version.cpp" || fail "version.cpp: $(cat "$work/version.cpp")"
grep -q "revision = \"$(g rev-parse HEAD)\";" "$work/version.cpp" || fail "version.cpp has no revision"
before=$(stat -c %y "$work/version.cpp")
sleep 1.1
cmake -DSOURCE_DIR="$work/src" -DOUTPUT="$work/version.cpp" -P "$repo/cmake/version.cmake"
expect "an unchanged version leaves version.cpp alone (nothing relinks)" "$before" "$(stat -c %y "$work/version.cpp")"

this=$(version "$repo")
expect "pgship-agent --version" "pgship-agent $this" "$("$agent" --version)"
expect "pgship-receiver --version" "pgship-receiver $this" "$("$receiver" --version)"
