# Sourced by the benchmarks: a throwaway PostgreSQL 15 cluster in a temp dir
# (bench/lib/cluster.sh), loaded with SIZE_GB GiB (variable size_gb) of the trading-like
# generator's tables, then restarted with the default settings. Needs pg_bin (the server
# tools); sets work, port, password, psql(), db_bytes, tables, loaded and events, the helpers
# seconds/elapsed/median/mib, and write_agent_env FILE (an agent config for it and the
# receiver), start_receiver (rx_port; its pid is killed on exit). Everything goes when the
# script exits. bench/lib/timescaledb_db.sh is its TimescaleDB variant.

# shellcheck source=bench/lib/cluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"

# The generator of tests/support/sample_data.sql.hpp, scaled up: trades with numeric prices
# and volumes, and order events with jsonb whose keys depend on the event type, a request
# uuid and a SHA-256 signature. Tuned so that pg_dump -Fc -Z6 is about 1/3 of the tables.
t_load=$(seconds)
psql > /dev/null <<'SQL'
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
CREATE TABLE instruments (symbol text PRIMARY KEY, digits int NOT NULL, base_price numeric NOT NULL);
INSERT INTO instruments VALUES
  ('EURUSD', 5, 1.08), ('GBPUSD', 5, 1.27), ('USDJPY', 3, 151.2), ('AUDUSD', 5, 0.66),
  ('USDCHF', 5, 0.89), ('USDCAD', 5, 1.36), ('NZDUSD', 5, 0.61), ('EURGBP', 5, 0.85),
  ('XAUUSD', 2, 2350.0), ('XAGUSD', 3, 28.4), ('US30', 1, 39000), ('NAS100', 1, 18200),
  ('GER40', 1, 18500), ('BTCUSD', 2, 64000), ('ETHUSD', 2, 3100), ('WTI', 2, 78.5);
CREATE TABLE trades (
  ticket bigint NOT NULL, account_id bigint NOT NULL, symbol text NOT NULL, side char(1) NOT NULL,
  volume numeric(10,2) NOT NULL, open_price numeric(14,5) NOT NULL, close_price numeric(14,5),
  opened_at timestamptz NOT NULL, closed_at timestamptz, profit numeric(14,2),
  commission numeric(10,2) NOT NULL, comment text);
CREATE TABLE order_events (
  id bigserial NOT NULL, ticket bigint NOT NULL, payload jsonb NOT NULL,
  signature bytea NOT NULL, created_at timestamptz NOT NULL);
SQL
cat > "$work/batch.sql" <<'SQL'
SELECT setseed((:lo % 999983) / 999983.0);
INSERT INTO trades
SELECT g, a, s.symbol, CASE WHEN random() < 0.5 THEN 'B' ELSE 'S' END,
       round((0.01 + random() * 4)::numeric, 2),
       round((s.base_price * (0.97 + random() * 0.06))::numeric, s.digits),
       CASE WHEN random() < 0.9 THEN round((s.base_price * (0.97 + random() * 0.06))::numeric, s.digits) END,
       t, CASE WHEN random() < 0.9 THEN t + random() * interval '3 days' END,
       round(((random() - 0.48) * 1500)::numeric, 2), round((random() * 12)::numeric, 2),
       CASE WHEN r < 0.15 THEN 'sl' WHEN r < 0.30 THEN 'tp' WHEN r < 0.35 THEN 'so: margin ' || round((r * 100)::numeric, 1) || '%' END
FROM (SELECT g, 1 + (random() * 19999)::int AS a, 1 + (random() * 15)::int AS i,
             timestamptz '2024-01-01' + g * interval '2 s' + random() * interval '2 s' AS t, random() AS r
      FROM generate_series(:lo, :hi) g) x
JOIN (SELECT symbol, digits, base_price, row_number() OVER (ORDER BY symbol) AS i FROM instruments) s USING (i);
INSERT INTO order_events (ticket, payload, signature, created_at)
SELECT g, CASE k
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
       sha256((g::text || random()::text)::bytea),
       timestamptz '2024-01-01' + g * interval '2 s' + random() * interval '30 s'
FROM (SELECT g, (random() * 3.4)::int AS k, 1 + (random() * 19999)::int AS a,
             round((1 + random())::numeric, 5) AS p, round((0.01 + random() * 4)::numeric, 2) AS v
      FROM generate_series(:lo, :hi, 2) g) x;
SQL
# Batches of at most 500k trades (~140 MiB) until the tables reach SIZE_GB; the rows per
# batch follow the bytes per trade measured so far (first guess: 290).
target=$(awk -v g="$size_gb" 'BEGIN { printf "%.0f", g * 1073741824 }')
loaded=0; next=1
while :; do
  bytes=$(table_bytes)
  [ "$bytes" -lt "$target" ] || break
  per_trade=$([ "$loaded" -gt 0 ] && echo $((bytes / loaded)) || echo 290)
  n=$(( (target - bytes) / per_trade + 1 )); [ "$n" -le 500000 ] || n=500000
  psql -v lo="$next" -v hi="$((next + n - 1))" -f "$work/batch.sql" > /dev/null
  loaded=$((loaded + n)); next=$((next + n))
done
psql > /dev/null <<'SQL'
ALTER TABLE trades ADD PRIMARY KEY (ticket);
ALTER TABLE trades ADD FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE trades ADD FOREIGN KEY (symbol) REFERENCES instruments (symbol);
ALTER TABLE order_events ADD PRIMARY KEY (id);
CREATE INDEX trades_account_idx ON trades (account_id, opened_at);
VACUUM (FREEZE, ANALYZE);
CHECKPOINT;
SQL
t_loaded=$(seconds)
pg_ctl stop -m fast -w > /dev/null
sync
start_pg
db_bytes=$(psql -Atc "SELECT pg_database_size('trading')")
tables=$(table_bytes)
events=$(psql -Atc 'SELECT count(*) FROM order_events')
echo "# work dir $work ($(df -h --output=source,fstype "$work" | tail -1))"
echo "# loaded $loaded trades and $events order events in $(elapsed "$t_load" "$t_loaded") s"
