-- A small sample database `shop` (55,000 rows): the compose setup's postgres init script and
-- deploy/quickstart.sh's throwaway cluster both load it.
CREATE DATABASE shop;
\connect shop
CREATE TABLE customers AS
  SELECT g AS id, 'customer ' || g AS name, md5(g::text) || '@example.com' AS email
  FROM generate_series(1, 5000) g;
CREATE TABLE orders AS
  SELECT g AS id, 1 + (random() * 4999)::int AS customer_id,
         round((random() * 500)::numeric, 2) AS amount,
         now() - random() * interval '365 days' AS placed_at,
         jsonb_build_object('items', 1 + (random() * 5)::int, 'channel',
                            (ARRAY['web', 'app', 'store'])[1 + (random() * 2)::int]) AS details
  FROM generate_series(1, 50000) g;
