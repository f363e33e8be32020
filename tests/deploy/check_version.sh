#!/usr/bin/env bash
# cmake/version.cmake, the one place the version comes from (ctest version, label deploy), in
# a scratch git repository whose CMakeLists.txt says 1.2.3: no tag (a fresh clone), on a tag,
# commits after it, uncommitted changes, a newer version in the repository than the newest tag,
# a `git archive` tarball without .git, and the build arguments a container build passes. Then
# this repository: its CMake version and its CHANGELOG's newest release heading agree, and the
# built programs' --version is what version.cmake says for this checkout.
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
echo 'project(pgship VERSION 1.2.3 DESCRIPTION "x" LANGUAGES CXX)' > "$work/src/CMakeLists.txt"
echo one > "$work/src/file"
g add -A && g commit -qm one
expect "no tag: the repository's version" "1.2.3" "$(version "$work/src")"
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
sed -i 's/1\.2\.3/1.3.0/' "$work/src/CMakeLists.txt" && g commit -qam "bump to 1.3.0"
expect "a newer version than the newest tag" "1.3.0" "$(version "$work/src")"
sed -i 's/1\.3\.0/1.2.3/' "$work/src/CMakeLists.txt" && g commit -qam "back to 1.2.3"
warning=$(cmake -DSOURCE_DIR="$work/src" -P "$repo/cmake/version.cmake" 2>&1 > /dev/null </dev/null; true)
[ -z "$warning" ] || fail "a clean run printed on stderr: $warning"
mv "$work/src/.git" "$work/src/.git-moved" && mkdir "$work/src/.git"
warning=$(cmake -DSOURCE_DIR="$work/src" -P "$repo/cmake/version.cmake" 2>&1 > /dev/null)
rmdir "$work/src/.git" && mv "$work/src/.git-moved" "$work/src/.git"
grep -q "git rev-parse" <<< "$warning" || fail "a broken .git gave no warning: $warning"
echo "ok: a .git that git cannot read is said on stderr"

mkdir -p "$work/tarball"
g archive HEAD | tar -xf - -C "$work/tarball"
expect "git archive tarball (.git-archival.txt)" "1.2.3-4-g$(g rev-parse --short HEAD)" "$(version "$work/tarball")"
expect "its revision" "$(g rev-parse HEAD)" "$(revision "$work/tarball")"
rm "$work/tarball/.git-archival.txt"
expect "no git, no archival file: the repository's version" "1.2.3" "$(version "$work/tarball")"
rm "$work/tarball/CMakeLists.txt"
expect "nothing at all" "0.0.0-unknown" "$(version "$work/tarball")"

cmake -DSOURCE_DIR="$work/src" -DOUTPUT="$work/version.cpp" -P "$repo/cmake/version.cmake"
grep -q "version = \"1.2.3-4-g$(g rev-parse --short HEAD)\";" "$work/version.cpp" || fail "version.cpp: $(cat "$work/version.cpp")"
grep -q "revision = \"$(g rev-parse HEAD)\";" "$work/version.cpp" || fail "version.cpp has no revision"
before=$(stat -c %y "$work/version.cpp")
sleep 1.1
cmake -DSOURCE_DIR="$work/src" -DOUTPUT="$work/version.cpp" -P "$repo/cmake/version.cmake"
expect "an unchanged version leaves version.cpp alone (nothing relinks)" "$before" "$(stat -c %y "$work/version.cpp")"

project=$(sed -n 's/^project(pgship VERSION \([0-9.]*\) .*/\1/p' "$repo/CMakeLists.txt")
changelog=$(sed -n 's/^## \([0-9][0-9.]*\)\( .*\)\?$/\1/p' "$repo/CHANGELOG.md" | head -1)
expect "CMakeLists.txt's version is the CHANGELOG's newest" "$changelog" "$project"
this=$(version "$repo")
case "$this" in
  "$project" | "$project"-*) echo "ok: this checkout's version $this is the repository's $project" ;;
  *) fail "this checkout's version $this does not start with the repository's $project" ;;
esac
expect "pgship-agent --version" "pgship-agent $this" "$("$agent" --version)"
expect "pgship-receiver --version" "pgship-receiver $this" "$("$receiver" --version)"
