#pragma once
// SQL that builds a database shaped like the trading platform pgship serves, on TimescaleDB:
//
//   plain tables  accounts, instruments, orders (→ accounts, instruments), account_stats
//                 (→ accounts, kept up to date by a custom job)
//   hypertables   trades (→ instruments, accounts) and quotes (→ instruments), 1-day chunks over
//                 the last `days` whole days (UTC) and today; native compression (segmentby
//                 instrument_id, orderby time DESC) on every chunk older than
//                 `compress_after_days`, done with compress_chunk
//   cagg          trades_1h: hourly OHLC candles per instrument, real-time
//                 (materialized_only = false: charts show the current candle), WITH DATA
//   jobs          a compression policy per hypertable, a retention policy per hypertable (far
//                 beyond the data's age: nothing is dropped), the candles' refresh policy and
//                 refresh_account_stats (add_job)
//
// Values are random but seeded, with the repetition real market data has: a custom-format dump
// compresses about 3-4:1, and so does TimescaleDB's own compression.
//
// What TimescaleDB allows and what it restores: foreign keys from hypertables to plain tables
// (trades → accounts) are restored by TimescaleDB's documented procedure. A foreign key from a
// plain table *to* a hypertable can be created since 2.16, but pg_dump writes it as `ALTER
// TABLE ONLY … ADD CONSTRAINT … REFERENCES <hypertable>`, which restore mode validates against
// the empty root table and fails ("is not present in table"), also with TimescaleDB's own
// procedure. So orders.fill_ticket refers to a trade without a constraint, as such platforms do.
//
// Nothing moves by itself while tests run (for less than a day): the compression policies are a
// day behind what compress_chunk compressed and the retention policies far beyond the data, so
// their runs (a restored copy runs every job at once) change nothing; refresh_account_stats
// updates rows in place; the candles are counted through the real-time view, so a refresh does
// not change their number.

#include <string>
#include <vector>

namespace pgship::test {

struct timescaledb_fixture_options {
  int trades = 200000;
  int quotes = 400000;
  int accounts = 2000;
  int orders = 20000;
  int days = 20;                // whole days of data before today (UTC)
  int compress_after_days = 7;  // chunks older than this are compressed
};

/// A relation the drill compares: schema, name and its `kind` in the manifest.
struct timescaledb_relation {
  std::string schema;
  std::string name;
  std::string kind;  // table, hypertable, continuous_aggregate
  std::string qualified() const { return schema + "." + name; }
};

/// Every relation of the fixture a manifest lists, and nothing else.
inline std::vector<timescaledb_relation> timescaledb_fixture_relations() {
  return {{"public", "account_stats", "table"},
          {"public", "accounts", "table"},
          {"public", "instruments", "table"},
          {"public", "orders", "table"},
          {"public", "quotes", "hypertable"},
          {"public", "trades", "hypertable"},
          {"public", "trades_1h", "continuous_aggregate"}};
}

/// The fixture as steps, each to be run on its own (a continuous aggregate WITH DATA cannot be
/// created inside a transaction block).
inline std::vector<std::string> timescaledb_fixture_sql(const timescaledb_fixture_options& o = {}) {
  const auto n = [](int v) { return std::to_string(v); };
  std::vector<std::string> steps;
  steps.push_back(R"sql(
SELECT setseed(0.2842);
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE accounts (
  id bigint PRIMARY KEY, login text NOT NULL UNIQUE, name text NOT NULL, currency char(3) NOT NULL,
  balance numeric(18,2) NOT NULL, leverage int NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO accounts
SELECT g, 'acct' || (100000 + g), initcap(md5(g::text)), (ARRAY['USD','EUR','GBP','JPY'])[1 + g % 4],
       round((random() * 100000)::numeric, 2), (ARRAY[50, 100, 200, 500])[1 + g % 4],
       timestamptz '2024-01-01' + random() * interval '700 days'
FROM generate_series(1, )sql" +
                  n(o.accounts) + R"sql() g;

CREATE TABLE instruments (
  id int PRIMARY KEY, symbol text NOT NULL UNIQUE, digits int NOT NULL, base_price numeric NOT NULL,
  contract_size numeric NOT NULL);
INSERT INTO instruments VALUES
  (1, 'EURUSD', 5, 1.08, 100000), (2, 'GBPUSD', 5, 1.27, 100000), (3, 'USDJPY', 3, 151.2, 100000),
  (4, 'AUDUSD', 5, 0.66, 100000), (5, 'USDCHF', 5, 0.89, 100000), (6, 'USDCAD', 5, 1.36, 100000),
  (7, 'NZDUSD', 5, 0.61, 100000), (8, 'EURGBP', 5, 0.85, 100000), (9, 'XAUUSD', 2, 2350.0, 100),
  (10, 'XAGUSD', 3, 28.4, 5000), (11, 'US30', 1, 39000, 1), (12, 'NAS100', 1, 18200, 1),
  (13, 'GER40', 1, 18500, 1), (14, 'BTCUSD', 2, 64000, 1), (15, 'ETHUSD', 2, 3100, 1),
  (16, 'WTI', 2, 78.5, 1000);

CREATE TABLE trades (
  time timestamptz NOT NULL, ticket bigint NOT NULL,
  instrument_id int NOT NULL REFERENCES instruments(id),
  account_id bigint NOT NULL REFERENCES accounts(id),
  side char(1) NOT NULL CHECK (side IN ('B', 'S')), price numeric(14,5) NOT NULL,
  qty numeric(10,2) NOT NULL, commission numeric(10,2) NOT NULL, comment text,
  PRIMARY KEY (ticket, time));
SELECT create_hypertable('trades', by_range('time', INTERVAL '1 day'));
CREATE INDEX trades_account_time_idx ON trades (account_id, time DESC);

CREATE TABLE quotes (
  time timestamptz NOT NULL, instrument_id int NOT NULL REFERENCES instruments(id),
  bid numeric(14,5) NOT NULL, ask numeric(14,5) NOT NULL, bid_size int NOT NULL,
  ask_size int NOT NULL);
SELECT create_hypertable('quotes', by_range('time', INTERVAL '1 day'));
CREATE INDEX quotes_instrument_time_idx ON quotes (instrument_id, time DESC);

-- From midnight (UTC) `days` days ago until a minute ago; prices drift over the period.
CREATE TEMP TABLE span AS
SELECT t0, extract(epoch FROM now() - t0) - 60 AS secs
FROM (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
             - interval ')sql" +
                  n(o.days) + R"sql( days' AS t0) x;

INSERT INTO trades
SELECT s.t0 + (x.f * s.secs) * interval '1 second', x.g, i.id, x.a,
       CASE WHEN x.r < 0.5 THEN 'B' ELSE 'S' END,
       round((i.base_price * (0.98 + 0.04 * x.f + 0.004 * (random() - 0.5)))::numeric, i.digits),
       round((0.01 + random() * random() * 5)::numeric, 2), round((random() * 12)::numeric, 2),
       CASE WHEN x.r < 0.15 THEN 'sl' WHEN x.r < 0.30 THEN 'tp'
            WHEN x.r < 0.32 THEN 'so: margin ' || round((x.r * 300)::numeric, 1) || '%' END
FROM span s,
     (SELECT g, random() AS f, 1 + (random() * ()sql" +
                  n(o.accounts - 1) + R"sql())::int AS a, 1 + (random() * 15)::int AS i,
             random() AS r
      FROM generate_series(1, )sql" +
                  n(o.trades) + R"sql() g) x
     JOIN instruments i ON i.id = x.i
ORDER BY 1;

INSERT INTO quotes
SELECT s.t0 + (x.f * s.secs) * interval '1 second', i.id,
       round((i.base_price * (0.98 + 0.04 * x.f + 0.002 * x.w))::numeric, i.digits),
       round((i.base_price * (0.98 + 0.04 * x.f + 0.002 * x.w)
              + i.base_price * 0.0001 * (1 + x.sp))::numeric, i.digits),
       (ARRAY[1, 2, 5, 10, 20, 50])[1 + (random() * 5)::int] * 100000,
       (ARRAY[1, 2, 5, 10, 20, 50])[1 + (random() * 5)::int] * 100000
FROM span s,
     (SELECT g, random() AS f, 1 + (g % 16) AS i, random() - 0.5 AS w, (random() * 3)::int AS sp
      FROM generate_series(1, )sql" +
                  n(o.quotes) + R"sql() g) x
     JOIN instruments i ON i.id = x.i
ORDER BY 1;

-- Orders, a tenth of them filled by a trade (fill_ticket: see the header comment).
CREATE TABLE orders (
  id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts(id),
  instrument_id int NOT NULL REFERENCES instruments(id), placed_at timestamptz NOT NULL,
  side char(1) NOT NULL, qty numeric(10,2) NOT NULL, limit_price numeric(14,5),
  status text NOT NULL, fill_ticket bigint);
INSERT INTO orders
SELECT g, 1 + (random() * ()sql" +
                  n(o.accounts - 1) + R"sql())::int, 1 + (g % 16),
       s.t0 + random() * s.secs * interval '1 second',
       CASE WHEN random() < 0.5 THEN 'B' ELSE 'S' END, round((0.01 + random() * 3)::numeric, 2),
       CASE WHEN g % 3 = 0 THEN round((1 + random())::numeric, 5) END,
       (ARRAY['filled', 'cancelled', 'rejected', 'expired', 'filled', 'filled'])[1 + g % 6],
       CASE WHEN g % 10 = 0 THEN g END
FROM span s, generate_series(1, )sql" +
                  n(o.orders) + R"sql() g;
CREATE INDEX orders_account_idx ON orders (account_id, placed_at);

ALTER TABLE trades SET (timescaledb.compress, timescaledb.compress_segmentby = 'instrument_id',
                        timescaledb.compress_orderby = 'time DESC, ticket');
ALTER TABLE quotes SET (timescaledb.compress, timescaledb.compress_segmentby = 'instrument_id',
                        timescaledb.compress_orderby = 'time DESC');
SELECT count(compress_chunk(c))
FROM show_chunks('trades', older_than => interval ')sql" +
                  n(o.compress_after_days) + R"sql( days') c;
SELECT count(compress_chunk(c))
FROM show_chunks('quotes', older_than => interval ')sql" +
                  n(o.compress_after_days) + R"sql( days') c;
)sql");
  steps.push_back(R"sql(
CREATE MATERIALIZED VIEW trades_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(interval '1 hour', time) AS bucket, instrument_id,
       first(price, time) AS open, max(price) AS high, min(price) AS low,
       last(price, time) AS close, sum(qty) AS volume, count(*) AS trades
FROM trades GROUP BY bucket, instrument_id
WITH DATA;
)sql");
  steps.push_back(R"sql(
CREATE TABLE account_stats (
  account_id bigint PRIMARY KEY REFERENCES accounts(id), trades bigint NOT NULL,
  volume numeric NOT NULL, refreshed_at timestamptz NOT NULL);
CREATE PROCEDURE refresh_account_stats(job_id int, config jsonb) LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO account_stats
  SELECT a.id, count(t.ticket), coalesce(sum(t.qty), 0), now()
  FROM accounts a
  LEFT JOIN trades t ON t.account_id = a.id AND t.time > now() - (config->>'lookback')::interval
  GROUP BY a.id
  ON CONFLICT (account_id) DO UPDATE
    SET trades = excluded.trades, volume = excluded.volume, refreshed_at = excluded.refreshed_at;
END $$;
CALL refresh_account_stats(0, '{"lookback": "7 days"}');

-- A day behind what is compressed already: a policy run (a restored copy runs each at once)
-- finds nothing new to compress, even after midnight.
SELECT add_compression_policy('trades', compress_after => interval ')sql" +
                  n(o.compress_after_days + 1) + R"sql( days');
SELECT add_compression_policy('quotes', compress_after => interval ')sql" +
                  n(o.compress_after_days + 1) + R"sql( days');
SELECT add_retention_policy('quotes', drop_after => interval '90 days');
SELECT add_retention_policy('trades', drop_after => interval '7 years');
SELECT add_continuous_aggregate_policy('trades_1h', start_offset => interval '3 days',
                                       end_offset => interval '1 hour',
                                       schedule_interval => interval '1 hour');
SELECT add_job('refresh_account_stats', interval '1 day', config => '{"lookback": "7 days"}');
ANALYZE;
)sql");
  return steps;
}

}  // namespace pgship::test
