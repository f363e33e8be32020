#pragma once
// SQL that fills a database with trading-like data. Values are random but seeded, with the
// mix of repetition and noise real trading tables have, so dumps compress like real ones
// (about 3-4:1) rather than like pgbench's blank filler (50:1).

#include <string>

namespace pgship::test {

inline std::string sample_data_sql(int trades) {
  const std::string n = std::to_string(trades);
  const std::string events = std::to_string(trades / 2);
  return R"sql(
SELECT setseed(0.4242);
CREATE TABLE accounts (
  id bigint PRIMARY KEY, login text NOT NULL, name text NOT NULL, currency char(3) NOT NULL,
  balance numeric(18,2) NOT NULL, leverage int NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO accounts
SELECT g, 'acct' || (100000 + g), initcap(md5(g::text)),
       (ARRAY['USD','EUR','GBP','JPY'])[1 + g % 4], round((random() * 100000)::numeric, 2),
       (ARRAY[50, 100, 200, 500])[1 + g % 4],
       timestamptz '2024-01-01' + random() * interval '700 days'
FROM generate_series(1, 5000) g;

CREATE TABLE instruments (symbol text PRIMARY KEY, digits int NOT NULL, base_price numeric NOT NULL);
INSERT INTO instruments VALUES
  ('EURUSD', 5, 1.08), ('GBPUSD', 5, 1.27), ('USDJPY', 3, 151.2), ('AUDUSD', 5, 0.66),
  ('USDCHF', 5, 0.89), ('USDCAD', 5, 1.36), ('NZDUSD', 5, 0.61), ('EURGBP', 5, 0.85),
  ('XAUUSD', 2, 2350.0), ('XAGUSD', 3, 28.4), ('US30', 1, 39000), ('NAS100', 1, 18200),
  ('GER40', 1, 18500), ('BTCUSD', 2, 64000), ('ETHUSD', 2, 3100), ('WTI', 2, 78.5);

CREATE TABLE trades (
  ticket bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts(id),
  symbol text NOT NULL REFERENCES instruments(symbol), side char(1) NOT NULL,
  volume numeric(10,2) NOT NULL, open_price numeric(14,5) NOT NULL, close_price numeric(14,5),
  opened_at timestamptz NOT NULL, closed_at timestamptz, profit numeric(14,2),
  commission numeric(10,2) NOT NULL, comment text);
INSERT INTO trades
SELECT g, a, s.symbol, CASE WHEN random() < 0.5 THEN 'B' ELSE 'S' END,
       round((0.01 + random() * 4)::numeric, 2),
       round((s.base_price * (0.97 + random() * 0.06))::numeric, s.digits),
       CASE WHEN random() < 0.9 THEN round((s.base_price * (0.97 + random() * 0.06))::numeric, s.digits) END,
       t, CASE WHEN random() < 0.9 THEN t + random() * interval '3 days' END,
       round(((random() - 0.48) * 1500)::numeric, 2), round((random() * 12)::numeric, 2),
       CASE WHEN r < 0.15 THEN 'sl' WHEN r < 0.30 THEN 'tp' WHEN r < 0.35 THEN 'so: margin ' || round((r * 100)::numeric, 1) || '%' END
FROM (SELECT g, 1 + (random() * 4999)::int AS a, 1 + (random() * 15)::int AS i,
             timestamptz '2024-01-01' + random() * interval '700 days' AS t, random() AS r
      FROM generate_series(1, )sql" +
         n + R"sql() g) x
JOIN (SELECT symbol, digits, base_price, row_number() OVER (ORDER BY symbol) AS i FROM instruments) s USING (i);

CREATE TABLE order_events (
  id bigserial PRIMARY KEY, ticket bigint NOT NULL, payload jsonb NOT NULL,
  signature bytea NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO order_events (ticket, payload, signature, created_at)
SELECT g, jsonb_build_object(
         'type', (ARRAY['open', 'modify', 'close', 'partial_close'])[1 + g % 4],
         'price', round((1 + random())::numeric, 5), 'sl', round((0.9 + random())::numeric, 5),
         'tp', round((1.1 + random())::numeric, 5),
         'client', jsonb_build_object('ip', '10.' || (g % 250) || '.' || (g * 7 % 250) || '.' || (g * 13 % 250),
                                      'terminal', (ARRAY['mt5-desktop', 'mt5-web', 'mt5-android', 'mt5-ios'])[1 + g % 4],
                                      'build', 4000 + g % 200)),
       decode(md5(g::text || random()::text), 'hex'),
       timestamptz '2024-01-01' + random() * interval '700 days'
FROM generate_series(1, )sql" +
         events + R"sql() g;
CREATE INDEX trades_account_idx ON trades (account_id, opened_at);
ANALYZE;
)sql";
}

}  // namespace pgship::test
