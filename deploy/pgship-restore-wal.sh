#!/bin/bash
# PostgreSQL's restore_command for pgship's physical archive, needing no pgship: only curl,
# age, zstd and truncate. In postgresql.conf (or postgresql.auto.conf) of the cluster to recover:
#
#   restore_command = 'env PGSHIP_URL=https://backup.example:8443 PGSHIP_SYSTEM=7311... \
#       PGSHIP_TOKEN_FILE=/etc/pgship/read-token PGSHIP_IDENTITY=/etc/pgship/age-key.txt \
#       /usr/local/bin/pgship-restore-wal.sh %f %p'
#
#   PGSHIP_URL         the receiver
#   PGSHIP_SYSTEM      the cluster's system identifier (pg_controldata, or GET /api/wal)
#   PGSHIP_TOKEN_FILE  a file holding a token with the read scope
#   PGSHIP_IDENTITY    the age identity file (only for an encrypted archive)
#   PGSHIP_CURL        more curl options, e.g. "--cacert /etc/pgship/ca.pem"
#
# The receiver lists the units that make up the segment (GET /api/wal/{system}/segments/{file});
# each unit is a byte range of it, decrypted and decompressed on its own and appended at its
# offset. The newest segment may be partial: it is zero-padded to the segment size, as
# pg_receivewal's .partial files are, and recovery ends where its valid records end.
#
# Exit 0: the file is at %p. Exit 1 only when the archive does not have it (404), which is how
# recovery learns it has reached the end. Anything else (a gap, a refused token, a unit that
# does not decrypt or decompress, an unreachable receiver) exits 126, which PostgreSQL treats as
# fatal: a broken archive stops recovery instead of ending it early.
set -uo pipefail

[ $# -eq 2 ] || exit 126
f=$1 p=$2
# Only segments and timeline histories are archived; PostgreSQL may ask for other files.
case $f in
  [0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F]) ;;
  [0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F].history) ;;
  *) exit 1 ;;
esac
if [ -z "${PGSHIP_URL:-}" ] || [ -z "${PGSHIP_SYSTEM:-}" ] || [ ! -r "${PGSHIP_TOKEN_FILE:-}" ]; then
  echo "pgship-restore-wal: set PGSHIP_URL, PGSHIP_SYSTEM and a readable PGSHIP_TOKEN_FILE" >&2
  exit 126
fi
api="${PGSHIP_URL%/}/api/wal/$PGSHIP_SYSTEM"
token=$(<"$PGSHIP_TOKEN_FILE") || exit 126
# The token goes to curl on its standard input as a header file, never on a command line.
curl_get() { curl -sS ${PGSHIP_CURL:-} -H @- "$@" <<< "Authorization: Bearer $token"; }
unit_get() { curl_get -f --retry 10 "$api/units/$1"; }

# Recovery asks faster than the receiver's RATE_LIMIT allows: a 429 (or a 503) is waited out
# and asked again, here and (curl --retry, which honours Retry-After) for each unit.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  out=$(curl_get -w '\n%{http_code}' "$api/segments/$f") || exit 126
  code=${out##*$'\n'}
  case $code in 429 | 503) sleep "$attempt" ;; *) break ;; esac
done
list=${out%$'\n'*}
[ "$code" = 404 ] && exit 1
if [ "$code" != 200 ]; then
  echo "pgship-restore-wal: $f: the receiver answered $code: $list" >&2
  exit 126
fi

{
  read -r magic version size state || exit 126
  if [ "$magic $version" != "pgship-wal-list 1" ]; then
    echo "pgship-restore-wal: $f: not a pgship WAL list" >&2
    exit 126
  fi
  : > "$p" || exit 126
  while read -r unit start; do
    [ -n "$unit" ] || continue
    # Units may overlap (cut differently after a restart; the bytes are the same): cut back to
    # where this one starts.
    truncate -s "$start" "$p" || exit 126
    case $unit in
      *.zst.age) unit_get "$unit" | age -d -i "$PGSHIP_IDENTITY" | zstd -dqc >> "$p" ;;
      *.age) unit_get "$unit" | age -d -i "$PGSHIP_IDENTITY" >> "$p" ;;
      *.zst) unit_get "$unit" | zstd -dqc >> "$p" ;;
      *) unit_get "$unit" >> "$p" ;;
    esac || { echo "pgship-restore-wal: $f: unit $unit failed" >&2; exit 126; }
  done
  if [ "$state" != history ]; then
    truncate -s "$size" "$p" || exit 126
  fi
} <<< "$list"
