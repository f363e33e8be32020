# Sourced by the benchmarks that compare with pgBackRest, after bench/lib/cluster.sh: a
# stanza `bench` on the bench cluster (Debian's pgBackRest 2.45, compress-type=zst level 3,
# process-max=2, start-fast=y, archive-check=y, a local repository under the work dir, no
# encryption), its WAL archived by `archive_command = pgbackrest archive-push` (archive_mode
# on: one restart, with start_pg's options in PGBACKREST_PG_OPTIONS); PGBACKREST_ASYNC=1 adds
# archive-async=y (archive-get fetches ahead for a restore's replay, archive-push queues).
# Sets as_pg (runs as the cluster's owner) and backrest ARGS (pgbackrest with the stanza's
# config).

as_pg() { "${as_owner[@]}" "$@"; }
cat > "$work/pgbackrest.conf" <<EOF
[global]
repo1-path=$work/pgbackrest-repo
repo1-retention-full=9999
compress-type=zst
compress-level=3
process-max=2
start-fast=y
archive-check=y
log-path=$work/pgbackrest-log
lock-path=$work/pgbackrest-lock
spool-path=$work/pgbackrest-spool
log-level-console=warn
${PGBACKREST_ASYNC:+archive-async=y}

[bench]
pg1-path=$work/data
pg1-port=PORT
pg1-socket-path=$work
pg1-user=postgres
EOF
mkdir -p "$work/pgbackrest-repo" "$work/pgbackrest-log" "$work/pgbackrest-lock" "$work/pgbackrest-spool"
[ ${#as_owner[@]} -eq 0 ] || chown -R postgres: "$work/pgbackrest.conf" "$work"/pgbackrest-*
cat >> "$work/data/postgresql.conf" <<EOF
archive_mode = on
archive_command = 'pgbackrest --config=$work/pgbackrest.conf --stanza=bench archive-push %p'
EOF
pg_ctl stop -m fast -w > /dev/null
# shellcheck disable=SC2086
start_pg ${PGBACKREST_PG_OPTIONS:-}
sed -i "s/^pg1-port=.*/pg1-port=$port/" "$work/pgbackrest.conf"
backrest() { as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench "$@"; }
backrest stanza-create > "$work/pgbackrest-setup.log" 2>&1 && backrest check >> "$work/pgbackrest-setup.log" 2>&1 ||
  { echo "pgBackRest set-up failed:" >&2; cat "$work/pgbackrest-setup.log" >&2; exit 1; }
