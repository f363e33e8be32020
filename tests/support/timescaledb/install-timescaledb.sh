#!/usr/bin/env bash
# Builds TimescaleDB from ../shared/vendor into this machine's PostgreSQL 15, once per machine:
# the installed files are cached by TimescaleDB and server version under
# ${PGSHIP_CACHE:-/var/cache/pgship}, so a later run only copies them into place (seconds).
#
#   tests/support/timescaledb/install-timescaledb.sh      exit 0: installed; 77: no tarball
#                                                          (and nothing cached to install)
#
# Never commits or vendors TimescaleDB's code: it is built from the shared tarball at test time.
set -euo pipefail

version=2.28.3
sha256=c80abd42995a317d9c046da6499a7a6e63c58e188124a2f20580f7c82fa4b801
root="$(cd "$(dirname "$0")/../../.." && pwd)"
tarball="${TIMESCALEDB_TARBALL:-$root/../shared/vendor/timescaledb-$version.tar.gz}"
pg_bin=/usr/lib/postgresql/15/bin
cache_root="${PGSHIP_CACHE:-/var/cache/pgship}"

sudo_cmd=()
[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)

# The server's exact Debian version: the headers must match the binary they build against.
server_deb="$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null)" || {
  echo "install-timescaledb: postgresql-15 is not installed (run deploy/install-deps.sh)" >&2
  exit 1
}
cache="$cache_root/timescaledb-$version-pg$server_deb"
libdir="$("$pg_bin/pg_config" --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)"

# One build at a time on a machine (two test runs at once would share $cache.tmp); a lock
# file another user made is not a reason to fail.
if { exec 9>>"${TMPDIR:-/tmp}/pgship-timescaledb-$version.lock"; } 2>/dev/null; then flock 9; fi

if [ ! -f "$cache/.complete" ]; then
  if [ ! -f "$tarball" ]; then
    echo "install-timescaledb: $tarball is missing: TimescaleDB tests cannot run here" >&2
    exit 77
  fi
  echo "$sha256  $tarball" | sha256sum -c --quiet - || {
    echo "install-timescaledb: $tarball does not have sha256 $sha256" >&2
    exit 1
  }
  if ! dpkg-query -W -f='${Status} ${Version}' postgresql-server-dev-15 2>/dev/null \
      | grep -qxF "install ok installed $server_deb"; then
    # sudo drops the environment: DEBIAN_FRONTEND goes through env. The package lists may be
    # missing or stale (install-deps.sh updates them only when it installs something).
    apt_install=("${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q
      --no-install-recommends "postgresql-server-dev-15=$server_deb")
    if ! "${apt_install[@]}" >/dev/null; then
      "${sudo_cmd[@]}" apt-get update -q >/dev/null
      "${apt_install[@]}" >/dev/null || {
        echo "install-timescaledb: cannot install postgresql-server-dev-15=$server_deb, the" \
          "headers of the installed server (if apt offers only a newer one, upgrade" \
          "postgresql-15 to it first)" >&2
        exit 1
      }
    fi
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mkdir "$work/src"
  tar -xzf "$tarball" -C "$work/src" --strip-components=1
  src="$work/src"
  start=$(date +%s)
  (cd "$src" && ./bootstrap -DCMAKE_BUILD_TYPE=Release -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
      -DWARNINGS_AS_ERRORS=OFF -DGENERATE_DOWNGRADE_SCRIPT=OFF -DAPACHE_ONLY=OFF \
      -DPG_CONFIG="$pg_bin/pg_config" >"$work/bootstrap.log" 2>&1) \
    || { tail -30 "$work/bootstrap.log" >&2; exit 1; }
  make -j"${JOBS:-2}" -C "$src/build" >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; exit 1; }
  # Staged as this user (DESTDIR), then moved into the cache as root.
  make -C "$src/build" install DESTDIR="$work/stage" >"$work/install.log" 2>&1 \
    || { tail -30 "$work/install.log" >&2; exit 1; }
  "${sudo_cmd[@]}" mkdir -p "$cache_root"
  "${sudo_cmd[@]}" rm -rf "$cache.tmp"
  "${sudo_cmd[@]}" cp -R "$work/stage" "$cache.tmp"
  "${sudo_cmd[@]}" chown -R 0:0 "$cache.tmp"
  "${sudo_cmd[@]}" touch "$cache.tmp/.complete"
  "${sudo_cmd[@]}" rm -rf "$cache"
  "${sudo_cmd[@]}" mv "$cache.tmp" "$cache"
  echo "install-timescaledb: built TimescaleDB $version in $(( $(date +%s) - start )) s, cached in $cache"
fi

# Into place: the libraries and the extension's control and SQL files, each file that differs.
# A file is replaced, never written over: a running server may have the library mapped.
changed=0
while IFS= read -r -d '' file; do
  rel="${file#"$cache"}"
  if ! cmp -s "$file" "$rel"; then
    "${sudo_cmd[@]}" mkdir -p "$(dirname "$rel")"
    "${sudo_cmd[@]}" cp -p --remove-destination "$file" "$rel"
    changed=$((changed + 1))
  fi
done < <(find "$cache/usr" -type f -print0)
[ -f "$libdir/timescaledb-$version.so" ] || {
  echo "install-timescaledb: $libdir/timescaledb-$version.so is not there after installing" >&2
  exit 1
}
echo "install-timescaledb: TimescaleDB $version is installed for PostgreSQL $server_deb" \
  "($changed file(s) copied)"
