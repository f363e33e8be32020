# Sourced by the benchmarks: the TimescaleDB variant of bench/lib/trading_db.sh. A throwaway
# PostgreSQL 15 cluster (bench/lib/cluster.sh) preloading TimescaleDB, whose database `trading`
# is shaped like the trading platform pgship serves:
#
#   plain tables  accounts, instruments
#   hypertables   trades (→ accounts, instruments) and order_events, 1-day chunks, the same
#                 rows as trading_db.sh's (numeric prices, jsonb payloads with a request uuid, a
#                 SHA-256 signature), timed backwards from the load's start: one trade every 2 s,
#                 so the newest chunk is today's and takes inserts
#   compression   segmentby instrument_id (trades), orderby time DESC; every chunk older than
#                 UNCOMPRESSED_DAYS (default 7) days compressed with compress_chunk
#   cagg          trades_1h, hourly OHLC per instrument, real-time, WITH DATA, with a refresh
#                 policy (every hour)
#   jobs          a compression policy per hypertable (compress_after UNCOMPRESSED_DAYS days,
#                 every 12 h), a retention policy per hypertable (drop_after 10 years: nothing
#                 is dropped until a benchmark moves it), the cagg's refresh policy
#
# SIZE_GB (variable size_gb, default 1) is the database to reach, in GiB of pg_database_size
# with the older chunks compressed: rows are loaded in batches going back in time, the chunks
# a batch has finished and that are older than UNCOMPRESSED_DAYS compressed after it, until the
# database is that large. A 1 GiB database holds about 2.3 GiB of rows as loaded (about 200
# days of 1-day chunks); loading it takes about 4 minutes on 2 cores, the cagg included.
# The load runs with fsync off; the cluster is then restarted with the defaults (plus the
# TimescaleDB lines of pg_conf_extra: preload, telemetry off, job execution logging on, and
# log_lock_waits). Needs TimescaleDB installed in pg_bin's server
# (tests/support/timescaledb/install-timescaledb.sh).
# Sets what cluster.sh sets, plus db_bytes, tables (heap and TOAST of every table and chunk, as
# stored), raw_tables (the same before TimescaleDB's compression: what trading_db.sh's `tables`
# measures), loaded (trades), events, chunks, compressed_chunks, tsdb_version,
# uncompressed_days and raw_bytes (a function: raw_tables now).

pg_conf_extra="shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
timescaledb.enable_job_execution_logging = on
log_lock_waits = on"
uncompressed_days="${UNCOMPRESSED_DAYS:-7}"

# shellcheck source=bench/lib/cluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"

# Heap and TOAST of the plain tables, the hypertables' chunks and their compressed chunks.
table_bytes() {
  psql -Atc "SELECT coalesce(sum(pg_table_size(oid)), 0) FROM pg_class
             WHERE relkind = 'r' AND relnamespace IN ('public'::regnamespace,
                                                      '_timescaledb_internal'::regnamespace)"
}
# The same, with each compressed chunk counted at its size before compression.
raw_bytes() {
  psql -Atc "SELECT (SELECT coalesce(sum(pg_table_size(oid)), 0) FROM pg_class
                     WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace)
                  + (SELECT coalesce(sum(pg_table_size(format('%I.%I', chunk_schema, chunk_name)::regclass)), 0)
                     FROM timescaledb_information.chunks WHERE NOT is_compressed)
                  + (SELECT coalesce(sum(coalesce(before_compression_table_bytes, 0)
                                         + coalesce(before_compression_toast_bytes, 0)), 0)
                     FROM (SELECT * FROM hypertable_compression_stats('trades')
                           UNION ALL SELECT * FROM hypertable_compression_stats('order_events')) s)"
}

t_load=$(seconds)
base=$(psql -Atc "SELECT date_trunc('minute', now())")
psql > /dev/null <<'SQL'
CREATE EXTENSION timescaledb;
SELECT setseed(0.4242);
CREATE TABLE accounts (
  id bigint PRIMARY KEY, login text NOT NULL, name text NOT NULL, currency char(3) NOT NULL,
  balance numeric(18,2) NOT NULL, leverage int NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO accounts
SELECT g, 'acct' || (100000 + g), initcap(md5(g::text)),
       (ARRAY['USD','EUR','GBP','JPY'])[1 + g % 4], round((random() * 100000)::numeric, 2),
       (ARRAY[50, 100, 200, 500])[1 + g % 4],
       timestamptz '2024-01-01' + random() * interval '700 days'
FROM generate_series(1, 20000) g;
CREATE TABLE instruments (
  id int PRIMARY KEY, symbol text NOT NULL UNIQUE, digits int NOT NULL, base_price numeric NOT NULL);
INSERT INTO instruments
SELECT row_number() OVER (ORDER BY v.symbol), v.* FROM (VALUES
  ('EURUSD', 5, 1.08), ('GBPUSD', 5, 1.27), ('USDJPY', 3, 151.2), ('AUDUSD', 5, 0.66),
  ('USDCHF', 5, 0.89), ('USDCAD', 5, 1.36), ('NZDUSD', 5, 0.61), ('EURGBP', 5, 0.85),
  ('XAUUSD', 2, 2350.0), ('XAGUSD', 3, 28.4), ('US30', 1, 39000), ('NAS100', 1, 18200),
  ('GER40', 1, 18500), ('BTCUSD', 2, 64000), ('ETHUSD', 2, 3100), ('WTI', 2, 78.5))
  v (symbol, digits, base_price);
CREATE TABLE trades (
  time timestamptz NOT NULL, ticket bigint NOT NULL, account_id bigint NOT NULL,
  instrument_id int NOT NULL, side char(1) NOT NULL, volume numeric(10,2) NOT NULL,
  open_price numeric(14,5) NOT NULL, close_price numeric(14,5), closed_at timestamptz,
  profit numeric(14,2), commission numeric(10,2) NOT NULL, comment text,
  PRIMARY KEY (ticket, time), FOREIGN KEY (account_id) REFERENCES accounts (id),
  FOREIGN KEY (instrument_id) REFERENCES instruments (id));
SELECT create_hypertable('trades', by_range('time', interval '1 day'));
CREATE INDEX trades_account_idx ON trades (account_id, time DESC);
ALTER TABLE trades SET (timescaledb.compress, timescaledb.compress_segmentby = 'instrument_id',
                        timescaledb.compress_orderby = 'time DESC, ticket');
CREATE TABLE order_events (
  created_at timestamptz NOT NULL, id bigint NOT NULL, ticket bigint NOT NULL,
  payload jsonb NOT NULL, signature bytea NOT NULL, PRIMARY KEY (id, created_at));
SELECT create_hypertable('order_events', by_range('created_at', interval '1 day'));
ALTER TABLE order_events SET (timescaledb.compress, timescaledb.compress_orderby = 'created_at DESC, id');
SQL
# trading_db.sh's batch, with times going back from the load's start and instruments by id.
cat > "$work/batch.sql" <<'SQL'
SELECT setseed((:lo % 999983) / 999983.0);
INSERT INTO trades
SELECT t, g, a, s.id, CASE WHEN random() < 0.5 THEN 'B' ELSE 'S' END,
       round((0.01 + random() * 4)::numeric, 2),
       round((s.base_price * (0.97 + random() * 0.06))::numeric, s.digits),
       CASE WHEN random() < 0.9 THEN round((s.base_price * (0.97 + random() * 0.06))::numeric, s.digits) END,
       CASE WHEN random() < 0.9 THEN t + random() * interval '3 days' END,
       round(((random() - 0.48) * 1500)::numeric, 2), round((random() * 12)::numeric, 2),
       CASE WHEN r < 0.15 THEN 'sl' WHEN r < 0.30 THEN 'tp' WHEN r < 0.35 THEN 'so: margin ' || round((r * 100)::numeric, 1) || '%' END
FROM (SELECT g, 1 + (random() * 19999)::int AS a, 1 + (random() * 15)::int AS i,
             timestamptz :'base' - g * interval '2 s' - random() * interval '2 s' AS t, random() AS r
      FROM generate_series(:lo, :hi) g) x
JOIN instruments s ON s.id = x.i;
INSERT INTO order_events (created_at, id, ticket, payload, signature)
SELECT timestamptz :'base' - g * interval '2 s' - random() * interval '30 s', g, g, CASE k
         WHEN 0 THEN jsonb_build_object('type', 'open', 'price', p, 'volume', v, 'sl', round(p * 0.99, 5), 'tp', round(p * 1.02, 5))
         WHEN 1 THEN jsonb_build_object('type', 'modify', 'sl', round(p * (0.98 + random()::numeric * 0.01), 5), 'tp', round(p * 1.03, 5), 'by', 'client')
         WHEN 2 THEN jsonb_build_object('type', 'close', 'price', p, 'volume', v, 'profit', round(((random() - 0.48) * 1500)::numeric, 2),
                                        'reason', (ARRAY['client', 'sl', 'tp', 'stop_out'])[1 + (random() * 3)::int])
         ELSE jsonb_build_object('type', 'partial_close', 'price', p, 'volume', round(v / 2, 2), 'remaining', round(v / 2, 2))
       END || jsonb_build_object(
         'request_id', md5(random()::text)::uuid,
         'client', jsonb_build_object('ip', '10.' || (a % 250) || '.' || (a * 7 % 250) || '.' || (1 + (random() * 253)::int),
                                      'terminal', (ARRAY['mt5-desktop', 'mt5-web', 'mt5-android', 'mt5-ios'])[1 + a % 4],
                                      'build', 4000 + (a + g / 100000) % 200)),
       sha256((g::text || random()::text)::bytea)
FROM (SELECT g, (random() * 3.4)::int AS k, 1 + (random() * 19999)::int AS a,
             round((1 + random())::numeric, 5) AS p, round((0.01 + random() * 4)::numeric, 2) AS v
      FROM generate_series(:lo, :hi, 2) g) x;
SQL
# Batches of at most 500k trades (about 11 days) until the database reaches SIZE_GB; after
# each, the chunks it finished (no later batch reaches back into them) that are older than
# UNCOMPRESSED_DAYS are compressed. The rows per batch follow the database bytes per trade
# so far (first guess: 200).
cat > "$work/compress.sql" <<'SQL'
SELECT count(compress_chunk(format('%I.%I', chunk_schema, chunk_name)::regclass))
FROM timescaledb_information.chunks
WHERE hypertable_name IN ('trades', 'order_events') AND NOT is_compressed
  AND range_end <= timestamptz :'base' - :'days' * interval '1 day'
  AND range_start >= timestamptz :'base' - :'hi' * interval '2 s';
SQL
target=$(awk -v g="$size_gb" 'BEGIN { printf "%.0f", g * 1073741824 }')
db_size() { psql -Atc "SELECT pg_database_size('trading')"; }
loaded=0; next=1
while :; do
  bytes=$(db_size)
  [ "$bytes" -lt "$target" ] || break
  per_trade=$([ "$loaded" -gt 0 ] && echo $((bytes / loaded)) || echo 200)
  n=$(( (target - bytes) / per_trade + 1 )); [ "$n" -le 500000 ] || n=500000
  hi=$((next + n - 1))
  psql -v lo="$next" -v hi="$hi" -v base="$base" -f "$work/batch.sql" > /dev/null
  psql -v hi="$hi" -v base="$base" -v days="$uncompressed_days" -f "$work/compress.sql" > /dev/null
  loaded=$((loaded + n)); next=$((next + n))
done
# The oldest chunks, which the last batch may not have finished, too.
psql -v hi=$((next * 2)) -v base="$base" -v days="$uncompressed_days" -f "$work/compress.sql" > /dev/null
t_rows=$(seconds)
psql > /dev/null <<'SQL'
SET client_min_messages = warning;
CREATE MATERIALIZED VIEW trades_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(interval '1 hour', time) AS bucket, instrument_id,
       first(open_price, time) AS open, max(open_price) AS high, min(open_price) AS low,
       last(open_price, time) AS close, sum(volume) AS volume, count(*) AS trades
FROM trades GROUP BY bucket, instrument_id
WITH DATA;
SQL
psql -c 'VACUUM (FREEZE, ANALYZE)'
# The policies run once when added (finding nothing to do): before the checkpoint.
psql -v days="$uncompressed_days" > /dev/null <<'SQL'
SELECT add_compression_policy('trades', compress_after => :'days' * interval '1 day');
SELECT add_compression_policy('order_events', compress_after => :'days' * interval '1 day');
SELECT add_retention_policy('trades', drop_after => interval '10 years');
SELECT add_retention_policy('order_events', drop_after => interval '10 years');
SELECT add_continuous_aggregate_policy('trades_1h', start_offset => interval '3 days',
                                       end_offset => interval '1 hour',
                                       schedule_interval => interval '1 hour');
SQL
for _ in $(seq 600); do
  [ "$(psql -Atc "SELECT count(*) FROM timescaledb_information.job_stats
                  WHERE job_id >= 1000 AND (job_status = 'Running' OR last_run_started_at IS NULL)")" = 0 ] && break
  sleep 0.1
done
psql -c CHECKPOINT
t_loaded=$(seconds)
pg_ctl stop -m fast -w > /dev/null
sync
start_pg
db_bytes=$(psql -Atc "SELECT pg_database_size('trading')")
tables=$(table_bytes)
raw_tables=$(raw_bytes)
events=$(psql -Atc 'SELECT count(*) FROM order_events')
chunks=$(psql -Atc "SELECT count(*) FROM timescaledb_information.chunks
                    WHERE hypertable_name IN ('trades', 'order_events')")
compressed_chunks=$(psql -Atc "SELECT count(*) FROM timescaledb_information.chunks
                               WHERE hypertable_name IN ('trades', 'order_events') AND is_compressed")
tsdb_version=$(psql -Atc "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
echo "# work dir $work ($(df -h --output=source,fstype "$work" | tail -1))"
echo "# TimescaleDB $tsdb_version: loaded $loaded trades and $events order events" \
  "($(mib "$raw_tables") MiB as loaded, $(mib "$tables") MiB as stored; $compressed_chunks of" \
  "$chunks chunks compressed, those older than $uncompressed_days days) in" \
  "$(elapsed "$t_load" "$t_rows") s; cagg and policies in $(elapsed "$t_rows" "$t_loaded") s"
