-- A small sample database for the compose setup (postgres image init script).
CREATE DATABASE shop;
\connect shop
CREATE TABLE customers AS
  SELECT g AS id, 'customer ' || g AS name, md5(g::text) || '@example.com' AS email
  FROM generate_series(1, 5000) g;
CREATE TABLE orders AS
  SELECT g AS id, 1 + (random() * 4999)::int AS customer_id,
         round((random() * 500)::numeric, 2) AS amount,
         now() - random() * interval '365 days' AS placed_at
  FROM generate_series(1, 50000) g;
